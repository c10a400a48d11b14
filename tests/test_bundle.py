"""`waestyle data bundle`: a prepared set cut to a byte budget, every source kept before any repeat."""

import csv

import pytest
from PIL import Image

from waestyle.cli import main
from waestyle.core.errors import WaestyleError
from waestyle.data.bundle import write_bundle


@pytest.fixture
def prepared(tmp_path):
    """A prepared-set layout: 3 sources with 4 noisy crops each (noise: every JPEG is about the same size)."""
    import numpy as np

    source = tmp_path / "prepared"
    rows, rng = [], np.random.default_rng(0)
    for folder in ("photos", "styles"):
        (source / folder).mkdir(parents=True)
    for s in range(3):
        for j in range(4):
            name = f"{'photos' if s < 2 else 'styles'}/s{s}-{j}.jpg"
            Image.fromarray(rng.integers(0, 255, (32, 32, 3), dtype=np.uint8)).save(source / name, quality=95)
            rows.append({"file": name, "source": f"/pictures/{s}.png", "painterly filter": ""})
    with (source / "files.csv").open("w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    (source / "SOURCES.md").write_text("sources\n")
    return source


def test_a_bundle_keeps_one_crop_of_every_source_before_a_second_and_stays_in_budget(prepared, tmp_path):
    one = len(Image.open(prepared / "photos" / "s0-0.jpg").tobytes())  # bound: JPEG is smaller than raw
    counts = write_bundle(prepared, tmp_path / "b", max_mb=4.5 * one / 1e6 / 3, quality=80, progress=False)
    kept = list(csv.DictReader((tmp_path / "b" / "files.csv").open()))
    sources = [row["source"] for row in kept]
    assert set(sources[:3]) == {f"/pictures/{s}.png" for s in range(3)}  # every source first
    assert sum((tmp_path / "b" / row["file"]).stat().st_size for row in kept) <= counts["megabytes"] * 1e6 + 1
    assert counts["photos"] + counts["styles"] == len(kept) < 12 and (tmp_path / "b" / "SOURCES.md").is_file()
    everything = write_bundle(prepared, tmp_path / "all", max_mb=100, progress=False)
    assert everything["photos"] == 8 and everything["styles"] == 4


def test_the_bundle_command_and_its_errors(prepared, tmp_path, capsys):
    assert main(["data", "bundle", str(prepared), "--out", str(tmp_path / "b"), "--max-mb", "1"]) == 0
    assert "wrote 8 content and 4 style crops (12 in the source)" in capsys.readouterr().out
    with pytest.raises(WaestyleError, match="not empty"):
        write_bundle(prepared, tmp_path / "b", 1)
    with pytest.raises(WaestyleError, match="data prepare"):
        write_bundle(tmp_path, tmp_path / "c", 1)
