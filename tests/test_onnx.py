"""ONNX export and the ONNX Runtime backend: the graphs are valid, and match PyTorch to 1e-3."""

import json
import shutil

import numpy as np
import onnx
import onnxruntime
import pytest
import torch
from PIL import Image

from waestyle.cli.main import main
from waestyle.core.errors import WaestyleError
from waestyle.stylize.networks import choose_backend
from waestyle.stylize.onnx_backend import (
    OnnxRuntimeNetworks,
    cached_export,
    default_backend,
    verify_export,
    verify_head,
)
from waestyle.stylize.onnx_export import HEAD_GRAPH, SIDECAR, STATISTICS_GRAPH, STYLE_GRAPH, TRANSFER_GRAPH, sidecar
from waestyle.stylize.stylizer import Stylizer

# The bundled model's graphs, exported once into the session's cache (conftest), as a second run finds them.
pytestmark = pytest.mark.usefixtures("bundled_export")


def test_default_model_exports_and_matches_pytorch(bundled_export):
    model, result = bundled_export
    for path in (result.style_graph, result.transfer_graph):
        onnx.checker.check_model(str(path), full_check=True)
    info = json.loads(result.sidecar.read_text())
    assert info["model"]["content_dim"] == 64 and info["transfer"]["side_multiple"] == 8
    assert info["style"]["long_side"] == 256 and info["input"]["range"] == [0.0, 1.0]
    # The style graph at two sizes and a batch of two; the transfer graph at every content-size octave.
    networks = OnnxRuntimeNetworks(result.folder)
    styles = torch.rand(2, 3, 96, 136, generator=torch.Generator().manual_seed(1))
    with torch.no_grad():
        expected = model.encode_style(styles)
    assert (networks.encode_style(styles) - expected).abs().max() <= 1e-3
    assert verify_export(model, result.folder) <= 1e-3
    assert info["transfer"]["styled_layers"] == model.decoder.styled_layers == networks.layers


def test_the_style_head_exports_as_two_graphs_that_match_pytorch(bundled_export):
    """The head's statistics and codes in ONNX Runtime: what the page's in-browser mode reads styles with."""
    model, result = bundled_export
    assert [p.name for p in result.head_graphs] == [STATISTICS_GRAPH, HEAD_GRAPH]
    for path in result.head_graphs:
        onnx.checker.check_model(str(path), full_check=True)
    info = json.loads(result.sidecar.read_text())
    head = Stylizer.load(precision="fp32", backend="torch").head
    assert info["graphs"]["style_head"] == HEAD_GRAPH and info["style_head"]["head_graph"] == HEAD_GRAPH
    assert info["style_head"]["statistics"]["dim"] == head.statistics_dim == 559
    assert verify_head(model, result.folder, head) <= 1e-3
    # codes and offsets of a style image through the graphs decode as Stylizer.style's do
    style = torch.rand(1, 3, 256, 192, generator=torch.Generator().manual_seed(2))
    stylizer = Stylizer.load(precision="fp32", backend="torch")
    expected = stylizer.style(style)
    session = {name: onnxruntime.InferenceSession(str(result.folder / name)) for name in (STATISTICS_GRAPH, HEAD_GRAPH)}
    (statistics,) = session[STATISTICS_GRAPH].run(None, {"style": style.numpy()})
    z_style = stylizer.style_latent(style).numpy()
    full = {"content_size": np.ones(1, np.float32)} if head.content_sized else {}  # the bundled head reads k
    codes, offsets = session[HEAD_GRAPH].run(None, {"z_style": z_style, "statistics": statistics, **full})
    assert np.abs(codes - expected.latent.numpy()).max() <= 1e-3
    assert np.abs(offsets - torch.cat(expected.offsets, 1).numpy()).max() <= 1e-3


def test_a_model_without_a_style_head_exports_without_its_graphs(tmp_path, bundled_export):
    model, result = bundled_export
    assert cached_export(model) != result.folder  # the head is part of what names the cache entry
    info = sidecar(model)
    assert info["style_head"] is None and set(info["graphs"]) == {"style_encoder", "transfer"}


def test_graphs_of_another_export_format_are_refused_and_not_reused(tmp_path, bundled_export):
    model, result = bundled_export
    old = tmp_path / "old"
    shutil.copytree(result.folder, old)
    info = json.loads((old / SIDECAR).read_text())
    (old / SIDECAR).write_text(json.dumps({**info, "format_version": 1}))
    with pytest.raises(WaestyleError, match="another waestyle version; run `waestyle export` again"):
        OnnxRuntimeNetworks(old)
    assert cached_export(model).name.endswith(f"-v{info['format_version']}")  # a new format: a new cache entry


def test_onnxruntime_backend_matches_torch_through_the_api():
    """Same transfer, both backends, PIL in and out, with the knobs that act inside the graph."""
    ort = Stylizer.load(backend="onnxruntime")
    torch_fp32 = Stylizer.load(backend="torch", precision="fp32")
    assert ort.backend == "onnxruntime" and torch_fp32.backend == "torch"
    rng = np.random.default_rng(0)
    content = Image.fromarray(rng.integers(0, 256, (45, 70, 3), dtype=np.uint8))  # sides not multiples of 8
    style = Image.fromarray(rng.integers(0, 256, (60, 50, 3), dtype=np.uint8))
    for controls in ({}, {"content_dim": 4, "strength": 0.5}):
        a = np.asarray(ort.transfer(content, style, **controls), dtype=np.int16)
        b = np.asarray(torch_fp32.transfer(content, style, **controls), dtype=np.int16)
        assert a.shape == (45, 70, 3) and np.abs(a - b).max() <= 1  # 8-bit rounding of a 1e-6 difference
    batch = torch.rand(2, 3, 33, 41)
    assert (ort.transfer(batch, style) - torch_fp32.transfer(batch, style)).abs().max() <= 1e-3
    with pytest.raises(WaestyleError, match="--content-dim must be between 1"):
        ort.transfer(content, style, content_dim=65)


def test_backend_choice():
    cpu = torch.device("cpu")
    assert default_backend(cpu, bf16=True, cached=lambda: True) == "torch"  # AMX: PyTorch's bf16 is faster
    assert default_backend(cpu, bf16=False, cached=lambda: False) == "onnxruntime"
    assert default_backend(torch.device("cuda"), bf16=False, cached=lambda: True) == "torch"
    with pytest.raises(WaestyleError, match="choose from auto, torch, onnxruntime"):
        Stylizer.load(backend="tensorrt")


def test_the_environment_says_what_auto_means(monkeypatch, bundled_export):
    model, _ = bundled_export
    cpu = torch.device("cpu")
    monkeypatch.setenv("WAESTYLE_BACKEND", "onnxruntime")  # its graphs are in the session's cache
    assert choose_backend(model, cpu, "auto", "auto") == "onnxruntime"
    assert choose_backend(model, cpu, "torch", "auto") == "torch"  # an explicit choice wins
    monkeypatch.setenv("WAESTYLE_BACKEND", "torch")
    assert Stylizer.load().backend == "torch"
    monkeypatch.setenv("WAESTYLE_BACKEND", "tensorrt")
    with pytest.raises(WaestyleError, match=r"\$WAESTYLE_BACKEND='tensorrt': choose from"):
        choose_backend(model, cpu, "auto", "auto")


def test_export_and_transfer_from_the_command_line(tmp_path, capsys, tiny_model):
    """The command on the research architecture (fixed size, pretrained EfficientNet-Lite0 features): its graphs
    are checked against PyTorch and never overwritten unasked. The spatial graphs are this module's fixture's
    (each export costs ~25 s here, whatever the model's size)."""
    out = tmp_path / "onnx"
    assert main(["export", "--model", str(tiny_model), "-o", str(out)]) == 0
    printed = capsys.readouterr().out
    assert "ONNX Runtime matches PyTorch" in printed
    assert all((out / name).is_file() for name in (STYLE_GRAPH, TRANSFER_GRAPH, SIDECAR))
    assert main(["export", "--model", str(tiny_model), "-o", str(out)]) == 1
    assert "pass --overwrite" in capsys.readouterr().err
    photo = tmp_path / "photo.png"
    Image.fromarray(np.random.default_rng(1).integers(0, 256, (40, 52, 3), dtype=np.uint8)).save(photo)
    for backend in ("onnxruntime", "torch"):  # the bundled model: its graphs are in the session's cache
        target = tmp_path / f"{backend}.png"
        argv = ["transfer", photo, photo, "-o", target, "--backend", backend]
        assert main([str(a) for a in argv]) == 0
        assert Image.open(target).size == (52, 40)
    a, b = (np.asarray(Image.open(tmp_path / f"{n}.png"), dtype=np.int16) for n in ("onnxruntime", "torch"))
    assert np.abs(a - b).mean() < 2  # PyTorch may run bf16 here; the graphs are fp32
