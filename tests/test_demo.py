"""The demo: bundled images with their licences, the bundled default model, prepare-demo and `waestyle demo`."""

import re

import pytest
from PIL import Image

from waestyle.cli.main import main
from waestyle.core.bundled import ASSETS, DEFAULT_MODEL, demo_contents, demo_styles
from waestyle.core.errors import WaestyleError
from waestyle.data.demo_recipe import DEBIAN_PHOTOS, PIP_PHOTOS, PIP_TEXTURES, prepare_demo_data
from waestyle.stylize.stylizer import Stylizer

# The files the demo images are made from (scripts/make_demo_assets.py).
DEMO_SOURCES = {
    "astronaut.png", "grace_hopper.jpg", "chelsea.png", "friends_by_Aitzol_Berasategi.jpg",
    "aitzgorri_by_Aitzol_Berasategi.jpg", "picosdeeuropa_by_Aitzol_Berasategi.jpg", "coffee.png",
    "Picture_0B_by_freespace.jpg", "brick.png", "gravel.png", "umang_by_Abhishek_Mudgal.jpg",
    "Picture_1A_by_freespace.jpg",
}  # fmt: skip


def test_demo_images_are_small_and_each_has_a_licence():
    licences = (ASSETS / "LICENSES.md").read_text()
    files = demo_contents() + demo_styles()
    assert len(demo_contents()) == 8 and len(demo_styles()) == 8
    assert sum(f.stat().st_size for f in files) < 3_000_000
    for path in files:
        row = re.search(rf"^\| {re.escape(path.name)} \|.*\| (.+) \|$", licences, flags=re.M)
        assert row, f"{path.name} has no row in LICENSES.md"
        assert any(ok in row.group(1) for ok in ("public domain", "CC0", "CC BY 4.0", "MIT")), row.group(0)
        with Image.open(path) as image:
            assert max(image.size) <= 512 and image.mode == "RGB"


def test_the_default_model_is_small_and_loads_with_no_argument():
    assert sum(f.stat().st_size for f in DEFAULT_MODEL.iterdir()) < 30 * 2**20
    stylizer = Stylizer.load()
    content = Image.open(demo_contents()[0]).convert("RGB").resize((150, 97))
    out = stylizer.transfer(content, Image.open(demo_styles()[0]).convert("RGB"))
    assert out.size == (150, 97)  # the default model is spatial: the content's own size


def test_prepare_demo_writes_a_training_set_and_its_sources(tmp_path):
    counts = prepare_demo_data(tmp_path / "data", count=20, backgrounds=tmp_path / "no-debian-photos")
    assert counts["photos"] >= 15 and counts["styles"] == 20 and counts["missing"] == 4
    sources = (tmp_path / "data" / "SOURCES.md").read_text()
    assert "rocket.jpg" in sources and "apt-get install lomiri-wallpapers-16.04" in sources
    # No demo image is a training source, so the demo and the model card's evaluation are held out.
    training = {name for _, name, _ in PIP_PHOTOS + PIP_TEXTURES} | {name for name, _ in DEBIAN_PHOTOS}
    assert not training & DEMO_SOURCES
    with pytest.raises(WaestyleError, match="already holds"):
        prepare_demo_data(tmp_path / "data", count=20)


def test_demo_command_writes_every_pair_and_a_grid(tmp_path, capsys, tiny_model):
    assert main(["demo", "--out", str(tmp_path / "out"), "--model", str(tiny_model), "--size", "48"]) == 0
    outputs = sorted((tmp_path / "out").glob("*__*.jpg"))
    assert len(outputs) == 64
    with Image.open(tmp_path / "out" / "grid.png") as grid:
        assert grid.size[0] == grid.size[1] > 9 * 128
    assert re.search(r"\d+ ms per image", capsys.readouterr().out)
    # A second run needs --overwrite, with a one-line error.
    assert main(["demo", "--out", str(tmp_path / "out"), "--model", str(tiny_model)]) == 1
    assert "--overwrite" in capsys.readouterr().err


def test_transfer_without_model_uses_the_default(tmp_path, capsys):
    out = tmp_path / "styled.png"
    assert main(["transfer", str(demo_contents()[1]), str(demo_styles()[1]), "-o", str(out), "--size", "96"]) == 0
    with Image.open(out) as image:
        assert max(image.size) == 96
