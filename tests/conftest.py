"""Shared fixtures: small real photos (scikit-image's CC0 samples) and a tiny trained model."""

import numpy as np
import pytest
from PIL import Image
from skimage import data as skdata

from waestyle.config import ModelConfig, TrainConfig
from waestyle.train import train


def photo_crops(count: int, seed: int = 0) -> list[Image.Image]:
    """Crops of real photographs at assorted sizes and aspect ratios."""
    sources = [skdata.astronaut(), skdata.chelsea(), skdata.coffee(), skdata.rocket()]
    rng = np.random.default_rng(seed)
    crops = []
    for i in range(count):
        source = sources[i % len(sources)]
        h, w = int(rng.integers(64, 140)), int(rng.integers(64, 140))
        y, x = int(rng.integers(0, source.shape[0] - h)), int(rng.integers(0, source.shape[1] - w))
        crops.append(Image.fromarray(source[y : y + h, x : x + w]))
    return crops


def write_images(folder, count: int, seed: int = 0, suffix: str = ".jpg"):
    folder.mkdir(parents=True, exist_ok=True)
    paths = []
    for i, image in enumerate(photo_crops(count, seed)):
        path = folder / f"img{i:03d}{suffix}"
        image.save(path)
        paths.append(path)
    return paths


@pytest.fixture(scope="session")
def image_dir(tmp_path_factory):
    folder = tmp_path_factory.mktemp("images")
    write_images(folder, 24)
    return folder


@pytest.fixture(scope="session")
def tiny_model(tmp_path_factory, image_dir):
    """A 32-px model trained for a few steps: enough for shapes, files and plumbing."""
    run_dir = tmp_path_factory.mktemp("runs") / "tiny"
    config = TrainConfig(data=[str(image_dir)], steps=6, batch_size=8, checkpoint_every=3, sample_every=6)
    train(ModelConfig(image_size=32, content_dim=16, style_dim=8), config, run_dir, progress=False)
    return run_dir
