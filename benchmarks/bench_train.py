"""Training throughput of the default recipe on this machine, setting by setting.

    python benchmarks/bench_train.py [--steps 12] [--batch-sizes 8 32] [--style-loss NAME] [--image-size 128]
                                     [--device cpu] [--settings NAME ...] [--profile]

The bundled model's architecture (fresh weights) with the default recipe's second-stage objective (style and
content consistency, Lite0 content network, nested content weighted by size, colour term), timed through the
training loop's own step function (LossModule + Adam, the loop's seeded draws) on real photo crops
(scikit-image's samples, no download). Each setting adds one thing: bf16 autocast, channels-last maps,
torch.compile (by default the bf16 settings where the device computes bf16 natively, the fp32 ones elsewhere).
Pairs/s = images per second (each image is decoded with another's style once per step); on a GPU each step ends
with a synchronisation, so the time is the device's. First prints the step's FLOP count and the GFLOP/s of
single 3x3 convolutions (the roofline), then the table; `--profile` then prints the costliest operations of the
last setting (torch.profiler, 5 steps). Nothing is asserted.

On a GPU machine (bf16 and compiled, the burst's size): `python benchmarks/bench_train.py --device cuda
--image-size 256 --batch-sizes 128 --style-loss lite0-moments-pixels --settings bf16-cl-compile --profile`.
"""

import argparse

import torch
from torch.utils.benchmark import Timer

from waestyle.core.bundled import DEFAULT_MODEL
from waestyle.core.config import TrainConfig
from waestyle.core.devices import native_bf16
from waestyle.data.images import pil_to_tensor, resize_center_crop
from waestyle.data.samples import photo_crops
from waestyle.features import load_feature_network, load_loss_network
from waestyle.features.style_statistics import load_style_loss
from waestyle.models.io import load_model_config
from waestyle.models.wae import WAEStyleModel
from waestyle.training.distributed import SINGLE
from waestyle.training.objective import LossModule, seeded_draws

RECIPE = dict(data=["-"], style_loss_weight=1.0, content_loss_weight=0.5, content_loss_by_size=True,
              content_features="efficientnet-lite0", content_size_power=2.0, style_size_power=1.0,
              reconstruction_size_power=2.0, colour_loss_weight=1.0, grad_clip=1.0, lr=2e-4)  # fmt: skip


def time_steps(step, steps: int) -> float:
    """Mean seconds per step over `steps` after two warm-up steps (allocator, compilation), by torch's timer."""
    step()
    step()
    return Timer(stmt="step()", globals={"step": step}).timeit(steps).median


SETTINGS = {
    "fp32": ("fp32, eager (the loop's CPU default)", dict(bf16=False, channels_last=False, compile=False)),
    # for CPUs without bf16 instructions, where PyTorch emulates bf16 (an AVX2 CPU: 20x slower than fp32)
    "fp32-cl": ("fp32 + channels-last", dict(bf16=False, channels_last=True, compile=False)),
    "fp32-cl-compile": ("fp32 + channels-last + compile", dict(bf16=False, channels_last=True, compile=True)),
    "bf16": ("bf16 autocast", dict(bf16=True, channels_last=False, compile=False)),
    "bf16-cl": ("bf16 + channels-last", dict(bf16=True, channels_last=True, compile=False)),
    "bf16-cl-compile": ("bf16 + channels-last + compile", dict(bf16=True, channels_last=True, compile=True)),
}


def make_step(setting: dict, batch_size: int, style_loss: str, size: int, device: torch.device):
    """One training step of the recipe (forward, backward, Adam) as a function, ending when the device is done."""
    model_config = load_model_config(DEFAULT_MODEL)
    torch.manual_seed(0)
    model = WAEStyleModel(model_config, load_feature_network(model_config.features))
    config = TrainConfig(**RECIPE, batch_size=batch_size, style_loss=style_loss)
    memory_format = torch.channels_last if setting["channels_last"] else torch.contiguous_format
    model.to(device, memory_format=memory_format)
    content_net = load_loss_network("efficientnet-lite0").to(device)
    style_stats = load_style_loss(style_loss)
    if style_stats is not None:
        style_stats.to(device)
    autocast = torch.bfloat16 if setting["bf16"] else None
    step_fn = LossModule(model, config, SINGLE, autocast, content_net, style_stats)
    if setting["compile"]:
        step_fn = torch.compile(step_fn)
    optimizer = torch.optim.Adam(model.trainable_parameters(), lr=config.lr)
    crops = photo_crops(batch_size, seed=0, min_side=size, max_side=2 * size)
    images = torch.stack([pil_to_tensor(resize_center_crop(c, size)) for c in crops])
    images = images.to(device).contiguous(memory_format=memory_format)
    count = iter(range(10**9))

    def step():
        model.train()
        with seeded_draws(next(count), device):  # as the training loop draws: one graph when compiled
            terms = step_fn(images)
        optimizer.zero_grad(set_to_none=True)
        terms["loss"].backward()
        torch.nn.utils.clip_grad_norm_(model.trainable_parameters(), config.grad_clip)
        optimizer.step()
        if device.type == "cuda":
            torch.cuda.synchronize(device)

    return step


def profile(step, device: torch.device, steps: int = 5) -> str:
    """The costliest operations of `steps` steps (after warm-up), by GPU time when the steps run on one."""
    from torch.profiler import ProfilerActivity
    from torch.profiler import profile as torch_profile

    step()
    on_gpu = device.type == "cuda"
    activities = [ProfilerActivity.CPU] + ([ProfilerActivity.CUDA] if on_gpu else [])
    with torch_profile(activities=activities) as prof:
        for _ in range(steps):
            step()
    key = "self_device_time_total" if on_gpu else "self_cpu_time_total"
    return prof.key_averages().table(sort_by=key, row_limit=25)


def conv_peak(c_in: int, c_out: int, side: int, dtype: torch.dtype, batch: int = 8) -> float:
    """GFLOP/s of one 3x3 convolution, forward and backward, channels-last: the roofline a step is read against."""
    x = torch.randn(batch, c_in, side, side, dtype=dtype).contiguous(memory_format=torch.channels_last)
    x.requires_grad_(True)
    w = torch.randn(c_out, c_in, 3, 3, dtype=dtype, requires_grad=True)

    def step():
        y = torch.nn.functional.conv2d(x, w, padding=1)
        y.backward(torch.ones_like(y))

    return 3 * 2 * batch * c_out * c_in * 9 * side * side / time_steps(step, 5) / 1e9


def step_flops(batch_size: int, style_loss: str, size: int) -> float:
    """FLOP of one training step (forward and backward) by PyTorch's counter."""
    from torch.utils.flop_counter import FlopCounterMode

    model_config = load_model_config(DEFAULT_MODEL)
    model = WAEStyleModel(model_config, load_feature_network(model_config.features))
    config = TrainConfig(**RECIPE, batch_size=batch_size, style_loss=style_loss)
    step_fn = LossModule(
        model, config, SINGLE, None, load_loss_network("efficientnet-lite0"), load_style_loss(style_loss)
    )
    images = torch.rand(batch_size, 3, size, size)
    with FlopCounterMode(display=False) as counter, seeded_draws(0, images.device):
        step_fn(images)["loss"].backward()
    return counter.get_total_flops()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=12)
    parser.add_argument("--batch-sizes", type=int, nargs="+", default=[8, 32])
    parser.add_argument("--style-loss", default="", help="a STYLE_LOSSES name ('': the model's Gram loss)")
    parser.add_argument("--image-size", type=int, default=load_model_config(DEFAULT_MODEL).image_size)
    parser.add_argument("--device", default="cpu")
    parser.add_argument(
        "--settings",
        nargs="+",
        choices=list(SETTINGS),
        help="default: the bf16 ones where the device computes bf16 natively, else the fp32 ones",
    )
    parser.add_argument("--profile", action="store_true", help="then the costliest operations of the last setting")
    args = parser.parse_args()
    device = torch.device(args.device)
    native = native_bf16(device)
    args.settings = args.settings or [name for name in SETTINGS if name == "fp32" or name.startswith("bf16") == native]
    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads, device {device}, "
          f"style loss {args.style_loss or 'gram'}, {args.image_size} px")  # fmt: skip
    flops = step_flops(8, args.style_loss, args.image_size)
    print(f"one step at batch 8: {flops / 1e9:.1f} GFLOP ({flops / 8e9:.2f} a pair)")
    if device.type == "cpu":
        for c_in, c_out, side in ((32, 32, 128), (64, 64, 64), (128, 128, 32), (256, 256, 16)):
            rates = [conv_peak(c_in, c_out, side, dtype) for dtype in (torch.float32, torch.bfloat16)[: 1 + native]]
            bf16 = f", bf16 {rates[1]:.0f}" if native else " (bf16 emulated here: not timed)"
            print(f"3x3 conv {c_in}->{c_out} at {side} px, fwd+bwd, channels-last: fp32 {rates[0]:.0f}{bf16} GFLOP/s")
    base, step = None, None
    print("| setting | batch | pairs / s | × the first | GFLOP/s |\n| --- | --- | --- | --- | --- |")
    for batch_size in args.batch_sizes:
        for name in args.settings:
            label, setting = SETTINGS[name]
            step = make_step(setting, batch_size, args.style_loss, args.image_size, device)
            rate = batch_size / time_steps(step, args.steps)
            base = base or rate
            print(f"| {label} | {batch_size} | {rate:.1f} | {rate / base:.2f} | {rate * flops / 8e9:.0f} |", flush=True)
    if args.profile and step is not None:
        print(profile(step, device))


if __name__ == "__main__":
    main()
