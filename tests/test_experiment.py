"""The research's data adapters and `waestyle experiment paper` end to end (tiny)."""

import json

from PIL import Image

from waestyle.cli.main import main
from waestyle.data.sources import find_sources, parse_data_spec, prepare

from .conftest import write_images


def test_data_specs_and_the_researchs_preprocessing(tmp_path):
    assert parse_data_spec("celeba:faces") == ("celeba", tmp_path.__class__("faces"))
    assert parse_data_spec("plain/folder")[0] == "folder"
    assert parse_data_spec("unknown:x")[0] == "folder"  # only known kinds are prefixes
    # An aligned CelebA image is 178x218: the WAE paper's central 140x140 crop, then resized.
    face = Image.new("RGB", (178, 218), "black")
    face.paste(Image.new("RGB", (140, 140), "white"), (19, 39))
    assert prepare(face, "celeba", 64).getextrema() == ((255, 255), (255, 255), (255, 255))
    wide = Image.new("RGB", (200, 100), "red")
    assert prepare(wide, "anime", 32).size == (32, 32) and prepare(wide, "imagenet", 32).size == (32, 32)
    write_images(tmp_path / "a", 2)
    assert [kind for _, kind in find_sources([f"anime:{tmp_path / 'a'}", tmp_path / "a"])] == ["anime"] * 2 + [
        "folder"
    ] * 2


def test_experiment_paper_trains_both_regimes_and_reports_every_content_size(tmp_path, capsys):
    write_images(tmp_path / "faces", 8, seed=1)
    write_images(tmp_path / "anime", 8, seed=2)
    argv = ["experiment", "paper", "--data-single", f"celeba:{tmp_path / 'faces'}", "--data-mixed"]
    argv += [f"celeba:{tmp_path / 'faces'}", "--data-mixed", f"anime:{tmp_path / 'anime'}", "--out", tmp_path / "x"]
    argv += ["--steps", 2, "--image-size", 32, "--content-dim", 8, "--batch-size", 4, "--quick"]
    assert main([str(a) for a in argv]) == 0
    summary = json.loads((tmp_path / "x" / "report" / "metrics.json").read_text())["summary"]
    names = {s["method"] for s in summary}
    for regime in ("single-domain", "mixed"):
        assert {f"{regime} k=8", f"{regime} k=4", f"{regime} k=2", f"{regime} k=1"} <= names
    assert (tmp_path / "x" / "report" / "content-size.png").is_file()
    # Run again with more steps: the regimes are resumed, not retrained from scratch.
    argv[argv.index("--steps") + 1] = 3
    assert main([str(a) for a in argv]) == 0
    config = json.loads((tmp_path / "x" / "runs" / "mixed" / "config.json").read_text())
    assert config["step"] == 3
