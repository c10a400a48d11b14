"""torchrun data parallelism (gloo on CPU) and packed data: same models as one process, same pixels."""

import os
import subprocess
import sys

import pytest
import torch
from safetensors.torch import load_file

from waestyle.cli.main import main
from waestyle.core.errors import WaestyleError
from waestyle.data.folders import ImageFolderDataset, build_dataset
from waestyle.data.packs import PackedDataset
from waestyle.data.sources import find_images

# A spatial model with nested content and the style swap: every batch-coupled term is exercised.
TRAIN = ["--arch", "spatial", "--image-size", "32", "--content-dim", "8", "--style-dim", "8", "--content-stride", "4",
         "--nested-content", "--style-loss-weight", "0.1", "--content-loss-weight", "0.05", "--batch-size", "6",
         "--seed", "3", "--checkpoint-every", "1", "--sample-every", "100"]  # fmt: skip


def torchrun(args: list[str], processes: int = 2) -> None:
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    command = [sys.executable, "-m", "torch.distributed.run", "--standalone", f"--nproc_per_node={processes}"]
    done = subprocess.run([*command, "-m", "waestyle", *args], env=env, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-3000:]


def assert_same_weights(a, b):
    """Equal up to float reordering. Adam turns the rounding noise of near-zero gradients into steps of
    up to lr (1e-3) either way, so a single weight may differ by 2 lr per step (6e-3 over 3 steps); on
    average they agree to 1e-5, where a wrong gradient would show (and see the exact float64 test below)."""
    first, second = load_file(a / "model.safetensors"), load_file(b / "model.safetensors")
    assert first.keys() == second.keys()
    diff = torch.cat([(first[k] - second[k]).abs().flatten() for k in first])
    assert diff.mean() < 1e-5 and diff.max() < 6e-3, (diff.mean(), diff.max())
    losses = [[float(v) for v in (r / "log.csv").read_text().splitlines()[-1].split(",")[1:8]] for r in (a, b)]
    assert losses[0] == pytest.approx(losses[1], rel=1e-3)


def _gradients(place, images, image_dir) -> dict:
    from torch.nn.parallel import DistributedDataParallel

    from waestyle.core.config import ModelConfig, TrainConfig
    from waestyle.features import load_feature_network
    from waestyle.models.wae import WAEStyleModel
    from waestyle.training.objective import LossModule

    model_config = ModelConfig(arch="spatial", image_size=32, content_dim=8, style_dim=8, content_stride=4,
                               nested_content=True)  # fmt: skip
    config = TrainConfig(data=[str(image_dir)], batch_size=6, style_loss_weight=0.1, content_loss_weight=0.05)
    # In float64 the two ways of summing agree to ~1e-12, so a tight tolerance tells a real mismatch from rounding.
    default = torch.get_default_dtype()
    torch.set_default_dtype(torch.float64)
    try:
        torch.manual_seed(0)
        model = WAEStyleModel(model_config, load_feature_network("efficientnet-lite0"))
        step = LossModule(model, config, place, None)
        if place.world_size > 1:
            step = DistributedDataParallel(step, broadcast_buffers=False)
        step(images.double(), torch.Generator().manual_seed(5))["loss"].backward()
    finally:
        torch.set_default_dtype(default)
    return {name: p.grad.clone() for name, p in model.named_parameters() if p.grad is not None}


def _gradient_worker(rank: int, port: int, images: torch.Tensor, image_dir, out) -> None:
    import torch.distributed as dist

    from waestyle.training.distributed import Distributed

    os.environ.update(MASTER_ADDR="127.0.0.1", MASTER_PORT=str(port))
    dist.init_process_group("gloo", rank=rank, world_size=2)
    grads = _gradients(Distributed(rank, 2, rank), images[rank * 3 : (rank + 1) * 3], image_dir)
    if rank == 0:
        torch.save(grads, out)
    dist.destroy_process_group()


def test_two_processes_compute_the_gradients_of_one(tmp_path, image_dir):
    import socket

    from waestyle.training.distributed import SINGLE

    torch.set_num_threads(1)
    images = torch.stack([ImageFolderDataset(find_images([image_dir]), 32)[i] for i in range(6)])
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    torch.multiprocessing.spawn(_gradient_worker, args=(port, images, image_dir, tmp_path / "g.pt"), nprocs=2)
    one, two = _gradients(SINGLE, images, image_dir), torch.load(tmp_path / "g.pt")
    assert one.keys() == two.keys()
    assert one["content_encoder.convs.0.weight"].dtype == torch.float64
    for name, grad in one.items():
        if grad.norm() > 1e-9:  # biases right before a norm have zero gradient, up to rounding
            assert (grad - two[name]).norm() / grad.norm() < 1e-7, name


def test_two_processes_train_the_same_model_as_one_and_resume(tmp_path, image_dir):
    data = ["--data", str(image_dir)]
    assert main(["train", *data, "--out", str(tmp_path / "one"), "--steps", "3", *TRAIN]) == 0
    torchrun(["train", *data, "--out", str(tmp_path / "two"), "--steps", "3", *TRAIN])
    assert_same_weights(tmp_path / "one", tmp_path / "two")
    # Interrupted after 2 steps and resumed by two processes: still the same model.
    torchrun(["train", *data, "--out", str(tmp_path / "resumed"), "--steps", "2", *TRAIN])
    torchrun(["train", *data, "--out", str(tmp_path / "resumed"), "--steps", "3", "--resume"])
    assert_same_weights(tmp_path / "one", tmp_path / "resumed")
    log = (tmp_path / "resumed" / "log.csv").read_text().splitlines()
    assert [row.split(",")[0] for row in log[1:]] == ["2", "3"]  # the last step of each run, written once (rank 0)


def test_a_global_batch_must_split_evenly(tmp_path, image_dir, monkeypatch):
    from waestyle.training.distributed import Distributed

    monkeypatch.setattr("waestyle.training.loop.setup_distributed", lambda device: (Distributed(0, 4, 0), device))
    with pytest.raises(WaestyleError, match="divide evenly among 4"):
        from waestyle.core.config import ModelConfig, TrainConfig
        from waestyle.training.loop import train

        train(ModelConfig(image_size=32), TrainConfig(data=[str(image_dir)], batch_size=6), tmp_path / "run")


def test_a_pack_holds_the_same_pixels_as_its_folder(tmp_path, image_dir, capsys):
    assert main(["data", "pack", str(image_dir), "--out", str(tmp_path / "pack"), "--image-size", "32"]) == 0
    assert "a pack of 24 images of 32x32" in capsys.readouterr().out
    folder = ImageFolderDataset(find_images([image_dir]), 32)
    pack = PackedDataset(tmp_path / "pack", 32)
    assert len(pack) == len(folder) == 24
    for i in (0, 7, 23):
        assert torch.equal(pack[i], folder[i])  # uint8 storage loses nothing of the 8-bit images
    assert PackedDataset(tmp_path / "pack", 16)[0].shape == (3, 16, 16)
    mixed = build_dataset([str(tmp_path / "pack"), str(image_dir)], 32)
    assert len(mixed) == 48
    # A second pack into the same folder is refused; training reads packs like folders.
    assert main(["data", "pack", str(image_dir), "--out", str(tmp_path / "pack"), "--image-size", "32"]) == 1
    run = tmp_path / "run"
    argv = ["train", "--data", str(tmp_path / "pack"), "--out", str(run), "--image-size", "32", "--steps", "2"]
    assert main([*argv, "--batch-size", "4", "--content-dim", "8", "--style-dim", "8"]) == 0
    assert (run / "model.safetensors").is_file()


def test_a_truncated_pack_is_refused(tmp_path, image_dir):
    assert main(["data", "pack", str(image_dir), "--out", str(tmp_path / "pack"), "--image-size", "32"]) == 0
    data = tmp_path / "pack" / "images.u8"
    data.write_bytes(data.read_bytes()[:1000])
    with pytest.raises(WaestyleError, match="shorter than 24 images"):
        PackedDataset(tmp_path / "pack", 32)
