"""Transfer latency per image and training throughput on this machine.

    python benchmarks/bench_speed.py [--sizes 64 128] [--repeats 20] [--device cpu]

Latency does not depend on what the weights learned, so the model is freshly initialised; the
frozen feature network is the real one. Prints one table; nothing is asserted.
"""

import argparse
import copy
import statistics
import time

import torch
from PIL import Image

from waestyle.core.config import ModelConfig, TrainConfig
from waestyle.core.devices import resolve_device
from waestyle.features import load_feature_network
from waestyle.models.wae import WAEStyleModel
from waestyle.stylize.stylizer import Stylizer
from waestyle.training.objective import training_losses


def timed(fn, repeats: int, sync) -> list[float]:
    fn()  # warm-up: allocator, kernels, lazy init
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        sync()
        times.append(time.perf_counter() - start)
    return times


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[64, 128])
    parser.add_argument("--repeats", type=int, default=20)
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--device", default="cpu")
    args = parser.parse_args()
    device = resolve_device(args.device)
    sync = torch.cuda.synchronize if device.type == "cuda" else (lambda: None)
    features = load_feature_network("efficientnet-lite0")
    print(f"device={device} torch={torch.__version__} threads={torch.get_num_threads()} features=efficientnet-lite0")
    print(f"{'size':>5} {'pair (PIL, ms)':>15} {'batched (ms/img)':>17} {'train img/s':>12} {'params (M)':>11}")
    for size in args.sizes:
        pair, batched, images_per_s, params = bench_size(size, features, args.batch_size, args.repeats, device, sync)
        print(f"{size:>5} {pair * 1000:>15.1f} {batched * 1000:>17.2f} {images_per_s:>12.1f} {params:>11.2f}")


def bench_size(size, features, batch_size, repeats, device, sync) -> tuple[float, float, float, float]:
    """(s per PIL pair, s per image batched, training images/s, trainable parameters in millions)."""
    torch.manual_seed(0)
    model = WAEStyleModel(ModelConfig(image_size=size), features).to(device)
    # The Stylizer may cast its model's encoder and decoder to bf16 (precision="auto"); training needs its own copy.
    stylizer = Stylizer(copy.deepcopy(model), device)
    content = Image.new("RGB", (640, 480), "teal")
    style = Image.new("RGB", (512, 512), "orange")
    pair = statistics.median(timed(lambda: stylizer.transfer(content, style), repeats, sync))

    batch = torch.rand(batch_size, 3, size, size, device=device)
    z_style = stylizer.style_latent(batch[:1])
    batched = statistics.median(timed(lambda: stylizer.transfer(batch, z_style), repeats, sync)) / batch_size

    config = TrainConfig(data=["-"], batch_size=batch_size)
    optimizer = torch.optim.Adam(model.trainable_parameters(), lr=1e-4)
    generator = torch.Generator().manual_seed(0)

    def step():
        model.train()
        loss = training_losses(model, batch, generator, config)["loss"]
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()

    train_step = statistics.median(timed(step, max(3, repeats // 4), sync))
    params = sum(p.numel() for p in model.trainable_parameters()) / 1e6
    return pair, batched, batch_size / train_step, params


if __name__ == "__main__":
    main()
