"""End to end through the command line, as a user runs it: train, resume, transfer, reconstruct."""

import csv
import subprocess
import sys

import pytest
from PIL import Image

from waestyle.cli.main import main

from .conftest import write_images


def _run(capsys, *argv):
    code = main([str(a) for a in argv])
    captured = capsys.readouterr()
    return code, captured.out, captured.err


@pytest.mark.parametrize("image_size", [64, 128])
def test_train_resume_transfer_reconstruct(tmp_path, capsys, image_size):
    data = tmp_path / "photos"
    write_images(data, 12, seed=image_size)
    run = tmp_path / "run"
    steps = 30 if image_size == 64 else 4
    common = ["--data", data, "--out", run, "--image-size", image_size, "--content-dim", 32, "--style-dim", 16]
    common += ["--batch-size", 6, "--checkpoint-every", steps // 2, "--log-every", 1, "--lr", "2e-3"]
    code, out, _ = _run(capsys, "train", *common, "--steps", steps // 2)
    assert code == 0 and "model in" in out
    code, out, _ = _run(capsys, "train", *common, "--steps", steps, "--resume")
    assert code == 0 and f"trained steps {steps // 2 + 1}-{steps}" in out

    with (run / "log.csv").open() as handle:
        losses = [float(row["reconstruction"]) for row in csv.DictReader(handle)]
    assert len(losses) == steps
    if image_size == 64:
        assert sum(losses[-5:]) < 0.8 * sum(losses[:5])

    content, style = data / "img000.jpg", data / "img001.jpg"
    code, out, _ = _run(capsys, "transfer", content, style, "-o", tmp_path / "one.png", "--model", run)
    assert code == 0 and "ms per image" in out
    with Image.open(content) as c, Image.open(tmp_path / "one.png") as o:
        assert max(o.size) == image_size
        assert abs(o.size[0] / o.size[1] - c.size[0] / c.size[1]) < 0.1

    styles = tmp_path / "styles"
    write_images(styles, 2, seed=99, suffix=".png")
    code, _, _ = _run(capsys, "transfer", data, styles, "-o", tmp_path / "grid", "--model", run, "--batch-size", 5)
    assert code == 0
    outputs = sorted((tmp_path / "grid").iterdir())
    assert len(outputs) == 12 * 2 and outputs[0].name == "img000__img000.png"
    for path in outputs:
        with Image.open(path) as image:
            image.verify()

    code, _, _ = _run(capsys, "reconstruct", content, "-o", tmp_path / "rec.png", "--model", run, "--size", 200)
    assert code == 0
    with Image.open(tmp_path / "rec.png") as image:
        assert max(image.size) == 200


def test_folder_runs_skip_bad_files_and_write_the_good_ones(tmp_path, capsys, tiny_model, image_dir):
    folder = tmp_path / "mixed"
    write_images(folder, 3)
    (folder / "notes.jpg").write_text("this is text, not a picture")
    code, out, err = _run(capsys, "reconstruct", folder, "-o", tmp_path / "out", "--model", tiny_model)
    assert code == 1
    assert "skipped" in err and "notes.jpg" in err
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == ["img000.png", "img001.png", "img002.png"]


@pytest.mark.parametrize(
    ("make_args", "message"),
    [
        (lambda t, m, i: ["transfer", t / "nope.jpg", i, "-o", t / "o.png", "--model", m], "no such file"),
        (lambda t, m, i: ["transfer", t / "text.jpg", i, "-o", t / "o.png", "--model", m], "not an image"),
        (lambda t, m, i: ["transfer", i, i, "-o", t / "o.png", "--model", t], "not a waestyle model"),
        (lambda t, m, i: ["transfer", i, i, "-o", t / "o.txt", "--model", m], "image extension"),
        (lambda t, m, i: ["transfer", i, i, "-o", i, "--model", m], "overwrite an input"),
        (lambda t, m, i: ["transfer", i, i, "-o", t / "o.png", "--model", m, "--max-pixels", 10], "above the limit"),
        (lambda t, m, i: ["reconstruct", i, "-o", t / "exists.png", "--model", m], "--overwrite"),
        (lambda t, m, i: ["train", "--data", t / "none", "--out", t / "r"], "not a folder"),
        (lambda t, m, i: ["train", "--data", i.parent, "--out", m], "--resume"),
    ],
)
def test_bad_input_gives_one_line_and_non_zero_exit(tmp_path, capsys, tiny_model, image_dir, make_args, message):
    (tmp_path / "text.jpg").write_text("hello")
    (tmp_path / "exists.png").write_bytes(b"keep me")
    code, _, err = _run(capsys, *make_args(tmp_path, tiny_model, image_dir / "img000.jpg"))
    assert code == 1
    lines = [line for line in err.splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith("waestyle: error:") and message in lines[0]
    assert (tmp_path / "exists.png").read_bytes() == b"keep me"


def test_the_installed_command_runs_without_traceback(tmp_path):
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "waestyle",
            "reconstruct",
            tmp_path / "x.jpg",
            "-o",
            tmp_path / "y.png",
            "--model",
            tmp_path,
        ],
        capture_output=True,
        text=True,
    )
    assert result.returncode == 1
    assert "Traceback" not in result.stderr and result.stderr.startswith("waestyle: error:")
    help_text = subprocess.run([sys.executable, "-m", "waestyle", "--help"], capture_output=True, text=True).stdout
    assert all(command in help_text for command in ("train", "transfer", "reconstruct"))


def test_spatial_nested_training_and_every_style_control(tmp_path, capsys, image_dir):
    run = tmp_path / "spatial"
    code, _, _ = _run(
        capsys,
        "train", "--data", image_dir, "--out", run, "--arch", "spatial", "--image-size", 32, "--content-stride", 4,
        "--content-dim", 8, "--style-dim", 8, "--nested-content", "--style-loss-weight", 0.1,
        "--content-loss-weight", 0.05, "--steps", 2, "--batch-size", 4,
    )  # fmt: skip
    assert code == 0
    content = tmp_path / "content.png"
    Image.new("RGB", (300, 517), "green").save(content)
    style_a, style_b = image_dir / "img001.jpg", image_dir / "img002.jpg"
    runs = {
        "positional": [style_a],
        "mixed": ["--style", style_a, "--style", style_b, "--weights", "0.7,0.3"],
        "random": ["--style", "random", "--seed", 3],
        "controls": [style_a, "--strength", 0.5, "--keep-colors", "--content-dim", 4],
    }
    for name, style_args in runs.items():
        out = tmp_path / f"{name}.png"
        code, _, err = _run(capsys, "transfer", content, *style_args, "-o", out, "--model", run)
        assert code == 0, err
        with Image.open(out) as image:
            assert image.size == (300, 517)
    code, _, _ = _run(capsys, "reconstruct", content, "-o", tmp_path / "rec.png", "--model", run, "--size", 100)
    assert code == 0
    with Image.open(tmp_path / "rec.png") as image:
        assert image.size == (58, 100)


@pytest.mark.parametrize(
    ("style_args", "message"),
    [
        ([], "give one style"),
        (["STYLE", "--style", "random"], "give one style"),
        (["STYLE", "--weights", "1,2"], "--weights mixes repeated --style"),
        (["--style", "random", "--style", "STYLE", "--weights", "a,b"], "numbers separated by commas"),
        (["--style", "random", "--style", "STYLE", "--weights", "1"], "2 styles but 1 weights"),
        (["--style", "missing.jpg"], "no such file"),
        (["STYLE", "--content-dim", "4"], "without --nested-content"),
    ],
)
def test_bad_style_options_give_one_line(tmp_path, capsys, tiny_model, image_dir, style_args, message):
    style = str(image_dir / "img001.jpg")
    args = [style if a == "STYLE" else a for a in style_args]
    code, _, err = _run(
        capsys, "transfer", image_dir / "img000.jpg", *args, "-o", tmp_path / "o.png", "--model", tiny_model
    )
    assert code == 1
    lines = [line for line in err.splitlines() if line.strip()]
    assert len(lines) == 1 and message in lines[0]
    assert not (tmp_path / "o.png").exists()
