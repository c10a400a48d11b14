"""`waestyle data prepare`: crops from installed picture packages, with sources and licences recorded."""

import csv

import numpy as np
import pytest
from PIL import Image

from waestyle.cli.main import main
from waestyle.data.painterly import FILTERS
from waestyle.data.recipe import SOURCES, open_picture, prepare_training_data, read_gimp_pattern
from waestyle.data.samples import photo_crops, procedural_style


def _gimp_pattern(path, image: Image.Image) -> None:
    """A .pat file as GIMP writes it: header size, version, width, height, bytes per pixel, 'GPAT', name, pixels."""
    name = b"test\0"
    fields = (24 + len(name), 1, *image.size, 3)
    path.write_bytes(b"".join(v.to_bytes(4, "big") for v in fields) + b"GPAT" + name + image.tobytes())


@pytest.fixture(scope="module")
def fake_share(tmp_path_factory):
    """A /usr/share look-alike: a few stamps with transparency, two panoramas, portraits, a pattern."""
    share = tmp_path_factory.mktemp("share")
    stamps, land = share / "tuxpaint/stamps/animals", share / "stellarium/landscapes/ocean"
    portraits, patterns = share / "games/wesnoth/1.16/data/core/images/portraits", share / "gimp/2.0/patterns"
    for folder in (stamps, land, portraits, patterns):
        folder.mkdir(parents=True)
    for i, crop in enumerate(photo_crops(6, seed=1, max_side=200)):
        rgba = crop.convert("RGBA")
        rgba.putalpha(Image.new("L", crop.size, 0).resize(crop.size))
        rgba.paste(crop, (10, 10))  # opaque photo on a transparent margin
        rgba.save(stamps / f"stamp{i}.png")
    for i, crop in enumerate(photo_crops(2, seed=2, max_side=400)):
        crop.save(land / f"pano{i}.png")
    for i in range(3):
        procedural_style(50 + i, size=300).convert("RGBA").save(portraits / f"hero{i}.webp")
    procedural_style(9, size=96).save(patterns / "tiny-icon.png")  # not a .pat: ignored
    _gimp_pattern(patterns / "weave.pat", procedural_style(8, size=120))
    Image.new("RGBA", (20, 20), "red").save(share / "tuxpaint/stamps/animals/icon.png")  # below MIN_SIDE: skipped
    return share


def test_gimp_patterns_are_read(tmp_path):
    image = procedural_style(3, size=40)
    _gimp_pattern(tmp_path / "p.pat", image)
    assert np.array_equal(np.asarray(read_gimp_pattern(tmp_path / "p.pat")), np.asarray(image))
    (tmp_path / "bad.pat").write_bytes(b"\0" * 40)
    with pytest.raises(Exception, match="not a GIMP pattern"):
        read_gimp_pattern(tmp_path / "bad.pat")


def test_transparent_pictures_get_an_opaque_ground(tmp_path):
    Image.new("RGBA", (80, 80), (0, 0, 0, 0)).save(tmp_path / "clear.png")
    out = open_picture(tmp_path / "clear.png", np.random.default_rng(0))
    assert out.mode == "RGB" and min(out.getpixel((0, 0))) >= 150  # a light ground, not black


def test_painterly_filters_keep_size_and_are_seeded():
    photo = photo_crops(1, seed=3, max_side=96)[0]
    for name, render in FILTERS.items():
        a, b = render(photo, np.random.default_rng(5)), render(photo, np.random.default_rng(5))
        assert a.size == photo.size and a.mode == "RGB", name
        assert np.array_equal(np.asarray(a), np.asarray(b)), name
        assert not np.array_equal(np.asarray(a), np.asarray(photo)), name


def test_prepare_writes_crops_sources_and_licences(tmp_path, fake_share):
    out = tmp_path / "data"
    counts = prepare_training_data(out, size=48, procedural=4, share=fake_share, backgrounds=tmp_path, workers=1)
    photos, styles = sorted((out / "photos").iterdir()), sorted((out / "styles").iterdir())
    assert counts["photos"] == len(photos) > 6 and counts["styles"] == len(styles) > 8
    assert all(Image.open(p).size == (48, 48) for p in photos + styles)
    assert counts["content_pictures"] >= 8  # 6 stamps + 2 panoramas (+ scikit-image photos when installed)
    rows = list(csv.DictReader((out / "files.csv").open()))
    assert len(rows) == len(photos) + len(styles)
    assert not any("icon.png" in r["source"] for r in rows)  # 20-px icon skipped, .png among patterns ignored
    assert any(r["source"].endswith("weave.pat") for r in rows)
    assert {r["painterly filter"] for r in rows} - {""} <= set(FILTERS)
    sources = (out / "SOURCES.md").read_text()
    for source in SOURCES:
        assert source.name in sources and source.licence in sources
    assert "not installed" in sources  # krita and mypaint are absent from the fake share
    assert "lomiri" not in sources or "not installed" in sources


def test_prepare_is_reproducible_and_refuses_a_used_folder(tmp_path, fake_share, capsys):
    for name in ("a", "b"):
        prepare_training_data(tmp_path / name, size=32, procedural=2, share=fake_share, backgrounds=tmp_path, workers=1)
    for a in sorted((tmp_path / "a" / "photos").iterdir()):
        assert a.read_bytes() == (tmp_path / "b" / "photos" / a.name).read_bytes()
    argv = ["data", "prepare", "--out", str(tmp_path / "a"), "--share", str(fake_share)]
    assert main(argv) == 1
    assert "already holds photos/" in capsys.readouterr().err
    assert main(["data", "prepare", "--out", str(tmp_path / "c"), "--size", "8"]) == 1
