"""Issue 8 (in progress): untrusted model folders, output safety, training faults, hostile web clients.

Each test records its outcome for docs/ROBUSTNESS.md (see scripts/robustness_table.py).
"""

import errno
import json
import os
import random
import shutil
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch
from fastapi.testclient import TestClient
from safetensors.torch import load_file, save_file

from waestyle.cli.main import main
from waestyle.stylize.stylizer import Stylizer
from waestyle.training.checkpoints import latest_checkpoint
from waestyle.web.app import create_app
from waestyle.web.live import live_server

FAULT_CASES = [
    ("model folder", "pickle in place of model.safetensors"),
    ("model folder", "truncated model.safetensors"),
    ("model folder", "config.json of another format version"),
    ("model folder", "weights of other shapes than config.json"),
    ("model folder", "NaN weights"),
    ("model folder", "no config.json"),
    ("model folder", "every torch.load in the code has weights_only=True"),
    ("output", "-o names the content image"),
    ("output", "existing output without --overwrite"),
    ("output", "existing output with --overwrite"),
    ("output", "folder run with unreadable files among good ones"),
    ("training", "--out cannot be created"),
    ("training", "disk full while writing a checkpoint"),
    ("training", "SIGKILL mid-run, then --resume"),
    ("training", "disk full while writing the log or a sample grid"),
    ("training", "images of a folder deleted or corrupted mid-run"),
    ("training", "a pack truncated mid-run"),
    ("web API", "upload larger than --max-upload-mb"),
    ("web API", "request body larger than the limit"),
    ("web API", "image above --max-pixels (read from the header)"),
    ("web API", "a text file uploaded as the content"),
    ("web API", "24 concurrent uploads of 512-px photos"),
    ("web API", "malformed multipart body"),
    ("web API", "slow client that trickles headers and hangs up"),
]


def run_cli(argv, capsys) -> tuple[int, str]:
    status = main([str(a) for a in argv])
    return status, capsys.readouterr().err.strip()


def one_line_error(status: int, err: str) -> str:
    """The error line: the only line of stderr, apart from a training progress bar's redraws."""
    lines = [line for line in err.replace("\r", "\n").splitlines() if line.strip() and "step/s" not in line
             and "s/step" not in line and "?step" not in line]  # fmt: skip
    assert status == 1 and len(lines) == 1 and lines[0].startswith("waestyle: error: "), (status, err)
    return f"exit 1, `{lines[0].removeprefix('waestyle: error: ')}`"


def _pickle(folder: Path) -> None:
    torch.save({"w": torch.zeros(2)}, folder / "model.safetensors")


def _truncate(folder: Path) -> None:
    data = (folder / "model.safetensors").read_bytes()
    (folder / "model.safetensors").write_bytes(data[: len(data) // 3])


def _other_version(folder: Path) -> None:
    config = json.loads((folder / "config.json").read_text())
    config["format_version"] = 99
    (folder / "config.json").write_text(json.dumps(config))


def _other_shapes(folder: Path) -> None:
    config = json.loads((folder / "config.json").read_text())
    config["model"]["content_dim"] *= 2
    (folder / "config.json").write_text(json.dumps(config))


def _nan(folder: Path) -> None:
    weights = load_file(folder / "model.safetensors")
    name = sorted(weights)[0]
    weights[name] = torch.full_like(weights[name], float("nan"))
    save_file(weights, folder / "model.safetensors", metadata={"format": "waestyle", "format_version": "1"})


MODEL_FAULTS = [
    ("pickle in place of model.safetensors", _pickle, "not a safetensors file"),
    ("truncated model.safetensors", _truncate, "corrupt"),
    ("config.json of another format version", _other_version, "format 99"),
    ("weights of other shapes than config.json", _other_shapes, "do not match config.json"),
    ("NaN weights", _nan, "NaN"),
    ("no config.json", lambda folder: (folder / "config.json").unlink(), "config.json"),
]


@pytest.mark.parametrize(("case", "damage", "message"), MODEL_FAULTS, ids=[m[0] for m in MODEL_FAULTS])
def test_damaged_or_foreign_model_folders_are_refused(tmp_path, capsys, tiny_model, image_dir, robustness, case,
                                                      damage, message):  # fmt: skip
    model = tmp_path / "model"
    shutil.copytree(tiny_model, model, ignore=shutil.ignore_patterns("checkpoints", "samples"))
    damage(model)
    photo = image_dir / "img000.jpg"
    status, err = run_cli(["transfer", photo, photo, "-o", tmp_path / "out.png", "--model", model], capsys)
    observed = one_line_error(status, err)
    assert message in err and not (tmp_path / "out.png").exists(), err
    robustness("model folder", case, "error", observed.replace(str(tmp_path) + "/", ""))


def test_user_files_are_only_read_with_weights_only(robustness):
    source = Path(__file__).resolve().parent.parent / "src" / "waestyle"
    calls = [line for path in source.rglob("*.py") for line in path.read_text().splitlines() if "torch.load(" in line]
    assert calls and all("weights_only=True" in line for line in calls), calls
    robustness("model folder", FAULT_CASES[6][1], "yes", f"{len(calls)} calls, all weights_only=True (VGG19, Lite)")


def test_outputs_never_replace_inputs_or_existing_files(tmp_path, capsys, tiny_model, image_dir, robustness):
    content = tmp_path / "photo.jpg"
    shutil.copy(image_dir / "img000.jpg", content)
    before = content.read_bytes()
    style = image_dir / "img001.jpg"
    base = ["transfer", content, style, "--model", tiny_model]
    observed = one_line_error(*run_cli([*base, "-o", content, "--overwrite"], capsys))
    assert "refusing to overwrite an input" in observed and content.read_bytes() == before
    robustness("output", "-o names the content image", "error", observed.replace(str(tmp_path) + "/", ""))

    out = tmp_path / "styled.png"
    out.write_bytes(b"keep me")
    observed = one_line_error(*run_cli([*base, "-o", out], capsys))
    assert out.read_bytes() == b"keep me"
    robustness("output", "existing output without --overwrite", "error", observed.replace(str(tmp_path) + "/", ""))
    status, err = run_cli([*base, "-o", out, "--overwrite"], capsys)
    assert status == 0 and out.read_bytes()[:4] == b"\x89PNG", err
    robustness("output", "existing output with --overwrite", "works", "exit 0, the file replaced atomically")


def test_a_folder_run_skips_bad_files_and_writes_every_good_output(tmp_path, capsys, tiny_model, image_dir,
                                                                   robustness):  # fmt: skip
    folder = tmp_path / "in"
    folder.mkdir()
    for i in range(3):
        shutil.copy(image_dir / f"img00{i}.jpg", folder / f"good{i}.jpg")
    (folder / "bad.jpg").write_text("<html>")
    (folder / "empty.png").write_bytes(b"")
    status, err = run_cli(["transfer", folder, image_dir / "img005.jpg", "-o", tmp_path / "out", "--model",
                           tiny_model], capsys)  # fmt: skip
    written = sorted(p.name for p in (tmp_path / "out").iterdir())
    assert sorted(p.name for p in tmp_path.iterdir()) == ["in", "out"]  # nothing written outside -o
    assert status == 1 and len(written) == 3 and err.count("waestyle: skipped") == 2, (status, written, err)
    robustness("output", "folder run with unreadable files among good ones", "works, reports",
               "exit 1, 3 good outputs written, 2 lines `waestyle: skipped FILE: …`")  # fmt: skip


def test_training_output_that_cannot_be_created_fails_before_training(tmp_path, capsys, image_dir, robustness):
    (tmp_path / "file").write_text("not a folder")
    argv = ["train", "--data", image_dir, "--out", tmp_path / "file" / "run", "--steps", "2", "--image-size", "32"]
    started = time.monotonic()
    observed = one_line_error(*run_cli(argv, capsys))
    assert "cannot write to" in observed and time.monotonic() - started < 10
    robustness("training", "--out cannot be created", "error", observed.replace(str(tmp_path) + "/", ""))


def test_a_full_disk_stops_training_cleanly_and_resume_continues(tmp_path, capsys, image_dir, monkeypatch,
                                                                 robustness):  # fmt: skip
    import waestyle.training.checkpoints as checkpoint

    real_write = checkpoint.atomic_write_bytes

    def full_at_step_4(path, data):
        if "step-00000004" in path.name:
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
        real_write(path, data)

    run = tmp_path / "run"
    argv = ["train", "--data", image_dir, "--out", run, "--image-size", "32", "--content-dim", "8", "--style-dim",
            "8", "--batch-size", "4", "--steps", "6", "--checkpoint-every", "2"]  # fmt: skip
    monkeypatch.setattr(checkpoint, "atomic_write_bytes", full_at_step_4)
    observed = one_line_error(*run_cli(argv, capsys))
    assert "No space left on device" in observed and latest_checkpoint(run).step == 2
    monkeypatch.setattr(checkpoint, "atomic_write_bytes", real_write)
    status, err = run_cli([*argv, "--resume"], capsys)
    assert status == 0 and latest_checkpoint(run).step == 6, err
    robustness("training", "disk full while writing a checkpoint", "error, resumable",
               observed.replace(str(tmp_path) + "/", "") + "; `--resume` then finished from step 2")  # fmt: skip


def test_a_full_disk_between_checkpoints_stops_cleanly_and_resume_continues(tmp_path, capsys, image_dir, monkeypatch,
                                                                         robustness):  # fmt: skip
    import waestyle.training.loop as loop

    real_save = loop.save_image

    def full_at_step_3(image, path):
        if "step-00000003" in Path(path).name:
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
        real_save(image, path)

    run = tmp_path / "run"
    argv = ["train", "--data", image_dir, "--out", run, "--image-size", "32", "--content-dim", "8", "--style-dim",
            "8", "--batch-size", "4", "--steps", "4", "--checkpoint-every", "2", "--sample-every", "1"]  # fmt: skip
    monkeypatch.setattr(loop, "save_image", full_at_step_3)
    observed = one_line_error(*run_cli(argv, capsys))
    assert "step-3 log or sample grid" in observed and latest_checkpoint(run).step == 2
    monkeypatch.setattr(loop, "save_image", real_save)
    status, err = run_cli([*argv, "--resume"], capsys)
    assert status == 0 and latest_checkpoint(run).step == 4, err
    robustness("training", "disk full while writing the log or a sample grid", "error, resumable",
               observed.replace(str(tmp_path) + "/", "") + "; `--resume` then finished from step 2")  # fmt: skip


def test_images_deleted_or_corrupted_mid_run_are_skipped_and_reported(tmp_path, caplog, robustness):
    from waestyle.data.folders import ImageFolderDataset

    from .conftest import write_images

    paths = write_images(tmp_path / "data", 6)
    dataset = ImageFolderDataset(paths, 32)
    first = dataset[0]
    paths[1].unlink()  # gone after the run listed it
    paths[2].write_bytes(paths[2].read_bytes()[:40])  # cut short mid-run
    with caplog.at_level("WARNING"):
        batch = [dataset[i] for i in range(len(dataset))]
    assert all(t.shape == first.shape for t in batch) and dataset.bad == {1, 2}
    skipped = [r.getMessage() for r in caplog.records if r.getMessage().startswith("skipping")]
    assert len(skipped) == 2 and "no such file" in skipped[0] and "truncated" in skipped[1]
    robustness(
        "training",
        "images of a folder deleted or corrupted mid-run",
        "skipped, reported",
        f"{len(skipped)} warnings `skipping FILE: …`; every item still a 32-px image (the next readable one)",
    )


def test_a_pack_truncated_mid_run_is_read_up_to_its_end_and_reported(tmp_path, caplog, robustness):
    from waestyle.data.packs import PackedDataset, write_pack

    from .conftest import write_images

    write_images(tmp_path / "data", 8)
    write_pack([str(tmp_path / "data")], tmp_path / "pack", 32, workers=0, max_pixels=10**7, progress=False)
    dataset = PackedDataset(tmp_path / "pack", 32)
    reference = dataset[1]
    data = tmp_path / "pack" / "images.u8"
    with open(data, "r+b") as handle:  # keep the header and three images, as a shrinking copy would
        handle.truncate(dataset._array.offset + 3 * 32 * 32 * 3)
    with caplog.at_level("WARNING"):
        items = [dataset[i] for i in range(8)]  # without the check, index 3 on would kill the process (SIGBUS)
    assert torch.equal(items[1], reference) and torch.equal(items[4], items[1])  # 4 -> 4 % 3
    warnings = [r.getMessage() for r in caplog.records if "shrank" in r.getMessage()]
    assert len(warnings) == 1 and "shrank to 3 of 8 images" in warnings[0]
    robustness("training", "a pack truncated mid-run", "skipped, reported",
               "one warning `PACK/images.u8 shrank to 3 of 8 images while training; skipping the rest`; "
               "the 3 readable images stand in for the rest")  # fmt: skip


def _last_logged_step(run: Path) -> int:
    try:
        last = (run / "log.csv").read_text().splitlines()[-1].split(",")[0]
    except (OSError, IndexError):
        return 0
    return int(last) if last.isdigit() else 0


def test_sigkill_mid_run_then_resume_ends_with_the_uninterrupted_parameters(tmp_path, image_dir, robustness):
    settings = ["--data", str(image_dir), "--image-size", "32", "--content-dim", "8", "--style-dim", "8",
                "--batch-size", "4", "--steps", "14", "--checkpoint-every", "2", "--log-every", "1",
                "--seed", "5"]  # fmt: skip
    assert main(["train", "--out", str(tmp_path / "straight"), *settings]) == 0
    env = {**os.environ, "OMP_NUM_THREADS": str(torch.get_num_threads())}  # same arithmetic as this process
    run = tmp_path / "killed"
    child = subprocess.Popen([sys.executable, "-m", "waestyle", "train", "--out", str(run), *settings], env=env,
                             stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)  # fmt: skip
    target = random.randint(3, 11)  # a random step: wherever the kill lands, nothing may be lost but one interval
    deadline = time.monotonic() + 120
    while _last_logged_step(run) < target:
        assert child.poll() is None and time.monotonic() < deadline, "training ended before it could be killed"
        time.sleep(0.01)
    child.send_signal(signal.SIGKILL)
    child.wait()
    logged = _last_logged_step(run)
    kept = latest_checkpoint(run).step if (run / "checkpoints").is_dir() and latest_checkpoint(run) else 0
    assert logged - kept <= 2  # at most one checkpoint interval lost
    assert main(["train", "--out", str(run), *settings, "--resume"]) == 0
    straight, resumed = load_file(tmp_path / "straight" / "model.safetensors"), load_file(run / "model.safetensors")
    assert all(torch.equal(straight[k], resumed[k]) for k in straight)
    robustness("training", "SIGKILL mid-run, then --resume", "same model",
               f"killed after step {logged}, resumed from checkpoint {kept}: parameters bit-identical to an "
               "uninterrupted run")  # fmt: skip


@pytest.fixture(scope="module")
def app():
    return create_app(Stylizer.load(max_side=256))


def test_a_malformed_multipart_body_gets_a_client_error(app, robustness):
    client = TestClient(app)
    garbage = b"--XYZ\r\nContent-Disposition: form-data; name=content\r\n\r\n\x00\x01 no closing boundary"
    headers = {"content-type": "multipart/form-data; boundary=XYZ"}
    response = client.post("/api/transfer", content=garbage, headers=headers)
    assert 400 <= response.status_code < 500, response.status_code
    assert client.get("/api/health").status_code == 200
    detail = response.json()["detail"].replace("`", "")
    robustness("web API", "malformed multipart body", "4xx", f'{response.status_code}, "{detail}"; the server goes on')


def test_a_slow_client_does_not_block_others(app, robustness):
    import httpx

    with live_server(app) as url:
        host, port = url.removeprefix("http://").split(":")
        slow = socket.create_connection((host, int(port)))
        slow.sendall(b"POST /api/transfer HTTP/1.1\r\nHost: x\r\n")  # then nothing more for a while
        started = time.monotonic()
        response = httpx.post(f"{url}/api/transfer", data={"content_example": "cat", "style_example": "dots",
                                                            "long_side": "64"}, timeout=30)  # fmt: skip
        took = time.monotonic() - started
        slow.close()
        assert response.status_code == 200 and httpx.get(f"{url}/api/health").status_code == 200
    robustness("web API", "slow client that trickles headers and hangs up", "others served",
               f"another request answered 200 in {took:.2f} s meanwhile; the server stays up")  # fmt: skip


def test_web_limits_answer_before_the_model_runs(robustness):
    import io

    from PIL import Image

    from waestyle.web.app import ServeLimits

    limits = ServeLimits(max_file_bytes=50_000, max_request_bytes=200_000, max_pixels=1_000_000)
    client = TestClient(create_app(Stylizer.load(max_side=256), limits))
    noise = io.BytesIO()
    Image.effect_noise((300, 300), 100).convert("RGB").save(noise, format="PNG")  # about 270 KB
    wide = io.BytesIO()
    Image.new("RGB", (5000, 300)).save(wide, format="PNG")  # 1.5 megapixels in a small file
    cases = [
        ("upload larger than --max-upload-mb", {"files": {"content": ("n.png", noise.getvalue()[:150_000])}}, 413),
        ("request body larger than the limit", {"content": b"x" * 300_000,
                                                 "headers": {"content-type": "multipart/form-data"}}, 413),
        ("image above --max-pixels (read from the header)", {"files": {"content": ("w.png", wide.getvalue())}}, 413),
        ("a text file uploaded as the content", {"files": {"content": ("t.jpg", b"hello, not an image")}}, 415),
    ]  # fmt: skip
    for case, request, status in cases:
        if "files" in request:
            request["data"] = {"style_example": "brick"}
        response = client.post("/api/transfer", **request)
        assert response.status_code == status, (case, response.text)
        robustness("web API", case, str(status), f'{status}, "{response.json()["detail"]}"')


def test_many_concurrent_uploads_are_served_with_bounded_memory(robustness):
    import io
    import resource
    from concurrent.futures import ThreadPoolExecutor

    import httpx
    from PIL import Image

    from waestyle.core.bundled import demo_contents
    from waestyle.web.app import ServeLimits

    photo = io.BytesIO()
    Image.open(demo_contents()[0]).convert("RGB").save(photo, format="JPEG")
    app = create_app(Stylizer.load(max_side=512), ServeLimits(max_concurrent=2))
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    with live_server(app) as url, httpx.Client(base_url=url, timeout=120) as client:

        def send(_):
            files = {"content": ("p.jpg", photo.getvalue(), "image/jpeg")}
            return client.post("/api/transfer", files=files, data={"style_example": "dots"}).status_code

        with ThreadPoolExecutor(24) as pool:
            statuses = list(pool.map(send, range(24)))
        healthy = client.get("/api/health").status_code
    grown = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024 - before
    assert statuses == [200] * 24 and healthy == 200
    assert grown < 1500, grown  # two transfers at a time, not 24: memory stays bounded
    robustness("web API", "24 concurrent uploads of 512-px photos", "all served, bounded memory",
               f"24 x 200, server still healthy; peak memory of the test process grew {grown:.0f} MiB")  # fmt: skip
