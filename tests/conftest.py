"""Shared fixtures: small real photos (scikit-image's CC0 samples) and tiny trained models."""

import json
import os
from pathlib import Path

import pytest

from waestyle.core.config import ModelConfig, TrainConfig
from waestyle.data import samples
from waestyle.stylize.onnx_backend import ensure_export
from waestyle.stylize.onnx_export import SIDECAR, STYLE_GRAPH, TRANSFER_GRAPH, ExportResult, head_graph_names
from waestyle.stylize.stylizer import Stylizer
from waestyle.training.loop import train


def write_images(folder, count: int, seed: int = 0, suffix: str = ".jpg"):
    """`count` crops of real photos (64..140 px sides) saved as img000.jpg, img001.jpg, ..."""
    return samples.write_images(samples.photo_crops(count, seed, max_side=140), folder, "img", suffix)


@pytest.fixture(scope="session", autouse=True)
def private_onnx_cache(tmp_path_factory):
    """ONNX exports (the onnxruntime backend's cache) go to a temporary folder, never the user's; and `auto`
    means PyTorch, as on CPUs with AMX: an export per freshly trained model (10-30 s) would dominate the suite.
    The ONNX tests ask for that backend by name (test_onnx.py, and the `auto` choice itself there)."""
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("WAESTYLE_CACHE", str(tmp_path_factory.mktemp("waestyle-cache")))
        patch.setenv("WAESTYLE_BACKEND", "torch")
        yield


@pytest.fixture(scope="session")
def bundled_export(private_onnx_cache):
    """(the bundled model in fp32, its graphs and its style head's) exported once into the session's cache: each
    export costs ~25 s here, so the ONNX tests, refinement's and the browser's (the page's in-browser mode) share
    this one."""
    stylizer = Stylizer.load(precision="fp32", backend="torch")
    folder = ensure_export(stylizer.model, stylizer.head)  # reused when an earlier test had it exported
    graphs = (folder / name for name in (STYLE_GRAPH, TRANSFER_GRAPH, SIDECAR))
    return stylizer.model, ExportResult(folder, *graphs, tuple(folder / n for n in head_graph_names(stylizer.head)))


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


@pytest.fixture(scope="session")
def spatial_model(tmp_path_factory, image_dir):
    """A 32-px spatial model (stride 4) trained a few steps with the style-consistency terms on."""
    run_dir = tmp_path_factory.mktemp("runs") / "spatial"
    config = TrainConfig(
        data=[str(image_dir)],
        steps=4,
        batch_size=6,
        checkpoint_every=4,
        sample_every=4,
        style_loss_weight=0.1,
        content_loss_weight=0.05,
    )
    model = ModelConfig(arch="spatial", image_size=32, content_dim=8, style_dim=8, content_stride=4, base_channels=16)
    train(model, config, run_dir, progress=False)
    return run_dir


@pytest.fixture(scope="session")
def robustness():
    """Records what each robustness case did; scripts/robustness_table.py turns the rows into docs/ROBUSTNESS.md."""
    rows: list[dict] = []

    def record(area: str, case: str, expected: str, observed: str) -> None:
        rows.append({"area": area, "case": case, "expected": expected, "observed": observed})

    yield record
    target = os.environ.get("WAESTYLE_ROBUSTNESS_TABLE")
    if target:
        Path(target).write_text(json.dumps(rows, indent=1))
