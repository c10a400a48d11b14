"""Batches cut and augmented on the device: seeded by the step, shared out among processes, and trainable."""

import torch
from safetensors.torch import load_file

from waestyle.core.config import ModelConfig, TrainConfig
from waestyle.training.device_data import DeviceBatches, crop_and_flip, jitter
from waestyle.training.distributed import Distributed
from waestyle.training.loop import train


def _images(count=10, side=48):
    return (torch.rand(count, 3, side, side, generator=torch.Generator().manual_seed(0)) * 255).to(torch.uint8)


def test_batches_depend_on_the_step_alone_and_processes_split_one_batch():
    images = _images()
    one = DeviceBatches(images, 32, 6, seed=1, start_step=0, steps=3, place=Distributed())
    batches = list(one)
    assert len(batches) == 3 and batches[0].shape == (6, 3, 32, 32)
    assert 0 <= batches[0].min() and batches[0].max() <= 1
    assert not torch.equal(batches[0], batches[1])
    assert torch.equal(DeviceBatches(images, 32, 6, 1, 2, 3, Distributed()).batch(2), batches[2])  # resumed
    shards = [DeviceBatches(images, 32, 6, 1, 0, 3, Distributed(rank, 2, rank)).batch(1) for rank in (0, 1)]
    assert torch.allclose(torch.cat(shards), batches[1])


def test_the_augmentation_is_a_crop_a_mirror_and_a_colour_change():
    image = torch.linspace(0, 1, 16).repeat(3, 16, 1)[None]  # a ramp from left to right
    whole = crop_and_flip(image, 16, torch.ones(1), torch.full((1, 2), 0.5), torch.tensor([False]))
    assert torch.allclose(whole, image, atol=1e-5)
    mirrored = crop_and_flip(image, 16, torch.ones(1), torch.full((1, 2), 0.5), torch.tensor([True]))
    assert torch.allclose(mirrored, image.flip(-1), atol=1e-5)
    # mid-range colours, so that no channel is clamped and a hue turn can keep the luma exactly
    colours = 0.4 + 0.2 * torch.rand(2, 3, 4, 4, generator=torch.Generator().manual_seed(0))
    same = jitter(colours, torch.zeros(2), torch.ones(2), torch.zeros(2))
    assert torch.allclose(same, colours, atol=1e-5)
    grey = jitter(colours, torch.zeros(2), torch.zeros(2), torch.zeros(2))
    assert torch.allclose(grey[:, 0], grey[:, 1], atol=1e-3)  # no saturation: R = G = B
    turned = jitter(colours, torch.zeros(2), torch.ones(2), torch.full((2,), 0.25))
    luma = torch.tensor([0.299, 0.587, 0.114]).view(1, 3, 1, 1)
    assert not torch.allclose(turned, colours, atol=1e-2)
    assert torch.allclose((turned * luma).sum(1), (colours * luma).sum(1), atol=0.05)  # a hue turn keeps luma


def test_training_with_device_data_is_seeded_and_resumes_exactly(tmp_path, image_dir):
    model = ModelConfig(image_size=32, content_dim=16, style_dim=8)
    settings = dict(data=[str(image_dir)], steps=4, batch_size=6, checkpoint_every=2, sample_every=4, seed=3,
                    device_data=True)  # fmt: skip
    train(model, TrainConfig(**settings), tmp_path / "a", progress=False)
    train(model, TrainConfig(**{**settings, "steps": 2}), tmp_path / "b", progress=False)
    train(model, TrainConfig(**settings), tmp_path / "b", resume=True, explicit=["steps"], progress=False)
    a, b = (load_file(tmp_path / name / "model.safetensors") for name in ("a", "b"))
    assert all(torch.equal(a[k], b[k]) for k in a)
    assert (tmp_path / "a" / "samples" / "step-00000004.png").is_file()
