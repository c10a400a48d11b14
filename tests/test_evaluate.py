"""Evaluation: metrics obey their identities and `waestyle evaluate --quick` writes a sound report."""

import json
import math
import re

import pytest
import torch
from PIL import Image

from waestyle.cli.main import main
from waestyle.core.config import ModelConfig, TrainConfig
from waestyle.data.samples import procedural_style
from waestyle.evaluation.compare import content_sizes
from waestyle.evaluation.methods import IdentityMethod, PeerMethod
from waestyle.evaluation.metrics import (
    PSNR_CAP,
    colour_distance,
    grey_ssim,
    judge_distances,
    psnr,
    ssim,
    texture_distance,
)
from waestyle.evaluation.report import summarise
from waestyle.evaluation.runner import run_evaluation, square_batch
from waestyle.features import load_feature_network
from waestyle.training.loop import train


def test_metric_identities():
    g = torch.Generator().manual_seed(0)
    images = torch.rand(2, 3, 32, 32, generator=g)
    noisy = (images + 0.05 * torch.randn(images.shape, generator=g)).clamp(0, 1)
    assert psnr(images, images) == [PSNR_CAP, PSNR_CAP] and ssim(images, images) == [1.0, 1.0]
    assert all(20 < p < 40 for p in psnr(noisy, images)) and all(0.5 < s < 1 for s in ssim(noisy, images))
    assert colour_distance(images, images) == [0.0, 0.0]
    assert colour_distance(images, images.flip(-1)) == [0.0, 0.0]  # the palette, not the layout
    assert all(d > 0.3 for d in colour_distance(images, torch.zeros_like(images)))
    judge = load_feature_network("efficientnet-lite2")
    style, content = judge_distances(judge, images, images, images)
    assert style == [0.0, 0.0] and content == [0.0, 0.0]  # an image's style distance to itself is 0
    style, content = judge_distances(judge, noisy, images, torch.rand(2, 3, 32, 32, generator=g))
    assert all(s > 0 for s in style) and all(c > 0 for c in content)


def test_texture_distance_needs_no_network_and_tells_textures_apart():
    g = torch.Generator().manual_seed(0)
    noise = torch.rand(2, 3, 64, 64, generator=g)
    smooth = torch.nn.functional.avg_pool2d(noise, 9, 1, 4, count_include_pad=False)
    assert texture_distance(noise, noise) == [0.0, 0.0]
    assert texture_distance(noise, noise.flip(-1).roll(7, -2)) == pytest.approx([0.0, 0.0], abs=0.02)  # layout-free
    assert all(d > 1.0 for d in texture_distance(smooth, noise))  # fine grain against a blur
    assert grey_ssim(noise, noise) == pytest.approx([1.0, 1.0])


class _BlendWithStyle:
    """Not a transfer: the content half-blended with the style picture, which every style judge rewards."""

    name, content_dim = "blend", None

    def reconstruct(self, images):
        return None

    def transfer(self, contents, style):
        return 0.5 * contents + 0.5 * style.expand_as(contents)


def test_ssim_to_the_style_exposes_an_output_that_copies_the_style_picture(image_dir):
    contents = square_batch([Image.open(p).convert("RGB") for p in sorted(image_dir.iterdir())[:2]], 64)
    g = torch.Generator().manual_seed(0)
    styles = torch.nn.functional.avg_pool2d(torch.rand(2, 3, 64, 64, generator=g), 5, 1, 2)  # a texture
    methods = [IdentityMethod(), _BlendWithStyle()]
    judge = load_feature_network("random-vgg19-judge")
    evaluation = run_evaluation(methods, contents, styles, ["a", "b"], ["s", "t"], judge, progress=False)
    summary = {s["method"]: s for s in summarise(evaluation)}
    blend, identity = summary["blend"], summary[IdentityMethod.name]
    assert blend["style_distance"] < identity["style_distance"]  # the judge is fooled
    assert blend["style_ssim"] > identity["style_ssim"] + 0.2  # the layout check is not


def test_the_peer_says_which_int8_kernels_made_its_rows():
    """The peer's int8 graphs give other outputs on other CPUs; its reference mode runs them as written."""
    g = torch.Generator().manual_seed(1)
    contents, styles = torch.rand(1, 3, 64, 64, generator=g), torch.rand(1, 3, 64, 64, generator=g)
    methods = [PeerMethod(), PeerMethod(reference=True)]
    judge = load_feature_network("random-vgg19-judge")
    evaluation = run_evaluation(methods, contents, styles, ["a"], ["s"], judge, progress=False)
    summary = {s["method"]: s for s in summarise(evaluation)}
    assert summary[PeerMethod.name]["kernels"].startswith("int8")
    assert summary[f"{PeerMethod.name}, reference kernels"]["kernels"] == "reference (float QDQ)"
    outputs = [method.transfer(contents, styles) for method in methods]
    assert all(o.shape == contents.shape for o in outputs)
    assert not torch.equal(outputs[0], outputs[1])  # the kernels do differ


def test_content_sizes_are_the_researchs_five_halvings():
    assert content_sizes(512, True, None) == [512, 256, 128, 64, 32]
    assert content_sizes(16, True, [512, 8, 2]) == [8, 2]
    assert content_sizes(128, False, None) == [None]


@pytest.fixture(scope="module")
def nested_tiny(tmp_path_factory, image_dir):
    run_dir = tmp_path_factory.mktemp("runs") / "nested-tiny"
    config = TrainConfig(data=[str(image_dir)], steps=2, batch_size=4, checkpoint_every=2, sample_every=2)
    train(ModelConfig(image_size=32, content_dim=16, style_dim=8, nested_content=True), config, run_dir, progress=False)
    return run_dir


def test_evaluate_quick_writes_a_finite_report(tmp_path, capsys, tiny_model, nested_tiny, image_dir):
    styles = tmp_path / "styles"
    styles.mkdir()
    for seed in range(3):
        procedural_style(seed, size=64).save(styles / f"style{seed}.png")
    out = tmp_path / "report"
    argv = ["evaluate", "--model", tiny_model, "--model", nested_tiny, "--content", image_dir, "--style", styles]
    argv += ["--out", out, "--baselines", "gatys,peer", "--quick"]
    assert main([str(a) for a in argv]) == 0
    document = json.loads((out / "metrics.json").read_text())
    methods = {s["method"] for s in document["summary"]}
    assert {
        "identity (content unchanged)",
        "tiny",
        "nested-tiny k=16",
        "nested-tiny k=8",
        "gatys (optimisation)",
        PeerMethod.name,
    } <= methods
    numbers = [v for row in document["rows"] for v in row.values() if isinstance(v, float)]
    assert numbers and all(math.isfinite(v) for v in numbers)
    identity = [r for r in document["rows"] if r["method"].startswith("identity")]
    assert all(r["psnr"] == PSNR_CAP and r["ssim"] == 1.0 for r in identity if r["kind"] == "reconstruction")
    assert all(r["content_distance"] == 0 for r in identity if r["kind"] == "transfer")
    # The independent measures: a second judge network no model trained with, and a fixed filter bank.
    assert all(r["grey_ssim"] == pytest.approx(1.0) for r in identity if r["kind"] == "transfer")
    assert all(r["texture_distance"] >= 0 and r["style_distance_2"] >= 0 for r in identity if r["kind"] == "transfer")
    assert document["setup"]["second judge"] == "random-vgg19-judge"
    cut = next(s for s in document["summary"] if s["method"] == "tiny")["texture_distance_cut"]
    assert -50 < cut <= 1
    transfers = [r for r in document["rows"] if r["kind"] == "transfer"]
    assert len(transfers) == len(methods) * 2 * 2  # --quick: 2 contents x 2 styles per method
    for name in ("transfer-grid.jpg", "reconstruction-grid.jpg", "content-size.png"):
        with Image.open(out / name) as image:
            image.verify()
    report = (out / "report.md").read_text()
    assert "| nested-tiny k=8 |" in report and "sliced Wasserstein" in report and "texture cut" in report
    assert "SSIM to style (layout copied)" in report
    wins = {s["method"]: s.get("style_wins") for s in document["summary"]}
    assert wins["identity (content unchanged)"] is None and re.fullmatch(r"[0-4]/4", wins["tiny"])
    gatys = [r for r in transfers if r["method"] == "gatys (optimisation)"]
    expected = sum(
        r["style_distance"] < next(i["style_distance"] for i in transfers if i in identity and i["style"] == r["style"]
                                   and i["content"] == r["content"])
        for r in gatys
    )  # fmt: skip
    assert wins["gatys (optimisation)"] == f"{expected}/4"
    assert main([str(a) for a in argv]) == 1  # an existing report needs --overwrite
    assert "--overwrite" in capsys.readouterr().err
