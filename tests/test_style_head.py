"""The style head: an untrained one is the plain model, a trained one reads every style image in one pass, and
its file beside a model is found, checked and refused clearly when it does not fit."""

import copy
import shutil
from dataclasses import replace

import numpy as np
import pytest
import torch
from PIL import Image

from waestyle.cli.main import main
from waestyle.core.errors import WaestyleError
from waestyle.features.style_statistics import load_style_loss
from waestyle.models.style_head import (
    HEAD_FILE,
    StyleHead,
    content_size_input,
    load_style_head,
    save_style_head,
    statistics_vector,
    with_content_size,
)
from waestyle.stylize.controls import Style
from waestyle.stylize.refine import REFINE_LOSS
from waestyle.stylize.stylizer import Stylizer


def make_head(stylizer: Stylizer, seed: int | None = 0, content_sized: bool = False) -> StyleHead:
    """A head for `stylizer`'s decoder; `seed`: its last layer drawn small (a trained head's stand-in), None: zero."""
    with torch.no_grad():
        dim = statistics_vector(load_style_loss(REFINE_LOSS).statistics(torch.rand(1, 3, 32, 32))).shape[1]
    sizes = stylizer.model.decoder.modulation_sizes()
    head = StyleHead(stylizer.config.style_dim, sizes, 32, dim, REFINE_LOSS, content_sized=content_sized)
    if seed is not None:
        generator = torch.Generator().manual_seed(seed)
        with torch.no_grad():
            for parameter in head.net[-1].parameters():
                parameter.copy_(0.05 * torch.randn(parameter.shape, generator=generator))
    return head.eval()


@pytest.fixture(scope="module")
def plain(spatial_model):
    return Stylizer.load(spatial_model, precision="fp32", backend="torch")


@pytest.fixture(scope="module")
def headed(plain):
    return Stylizer(plain.model, precision="fp32", backend="torch", style_head=make_head(plain))


@pytest.fixture(scope="module")
def images():
    generator = torch.Generator().manual_seed(3)
    return torch.rand(2, 3, 32, 40, generator=generator), torch.rand(2, 1, 3, 48, 48, generator=generator)


def test_an_untrained_head_is_the_plain_model(plain, images):
    contents, (style, _) = images
    zero = Stylizer(plain.model, precision="fp32", backend="torch", style_head=make_head(plain, None))
    assert torch.allclose(zero.transfer(contents, style), plain.transfer(contents, style), atol=1e-6)


def test_a_head_gives_each_layer_a_code_and_offsets_and_the_controls_still_act(plain, headed, images):
    contents, (style, other) = images
    read = headed.style(style)
    layers = plain.model.decoder.styled_layers
    assert read.latent.shape == (1, layers, plain.config.style_dim)
    assert [o.shape[1] for o in read.offsets] == plain.model.decoder.modulation_sizes()
    out = headed.transfer(contents, style)
    assert not torch.allclose(out, plain.transfer(contents, style), atol=1e-3)
    assert torch.equal(headed.transfer(contents, read), out)  # read once, reused for many contents
    own = headed.reconstruct(contents)
    assert (headed.transfer(contents, style, strength=0.0) - own).abs().max() <= 1e-5
    mixed = headed.style([style, other], [1.0, 0.0])  # a mix reads the weighted statistics of its images
    assert torch.allclose(mixed.latent, read.latent, atol=1e-5)
    assert headed.style(headed.random_style(1)).offsets is None  # a prior sample has no statistics to read
    assert headed.transfer(contents, style, refine=1).shape == out.shape  # refinement starts from the head's answer


def test_a_head_beside_a_model_is_loaded_unless_declined(plain, spatial_model, images, tmp_path):
    folder = tmp_path / "model"
    shutil.copytree(spatial_model, folder)
    head = make_head(plain)
    save_style_head(head, folder, step=7)
    loaded, meta = load_style_head(folder)
    assert meta["step"] == 7 and meta["loss"] == REFINE_LOSS
    assert all(torch.equal(a, b) for a, b in zip(loaded.state_dict().values(), head.state_dict().values(), strict=True))
    contents, (style, _) = images
    reference = Stylizer(plain.model, precision="fp32", backend="torch", style_head=head).transfer(contents, style)
    assert torch.equal(Stylizer.load(folder, precision="fp32").transfer(contents, style), reference)
    assert Stylizer.load(folder, style_head=False).style_head is None
    save_style_head(head, folder, step=7, dtype=torch.float16)  # what the bundled model ships: half the file
    assert (Stylizer.load(folder, precision="fp32").transfer(contents, style) - reference).abs().max() <= 2e-3


def test_a_head_that_does_not_fit_is_refused_clearly(plain, spatial_model, tiny_model, tmp_path):
    folder, global_folder = tmp_path / "model", tmp_path / "global"
    shutil.copytree(spatial_model, folder)
    shutil.copytree(tiny_model, global_folder)
    other = StyleHead(plain.config.style_dim, [4, 4], 32)
    for model in (folder, global_folder):  # another decoder's layers; a global model has none
        save_style_head(other, model, step=1)
        with pytest.raises(WaestyleError, match="style head was trained for another decoder"):
            Stylizer.load(model)
    (folder / HEAD_FILE).write_bytes(b"not safetensors")
    with pytest.raises(WaestyleError, match="not a waestyle style head"):
        Stylizer.load(folder)


def test_the_command_line_reads_styles_through_the_head_unless_told_not_to(plain, spatial_model, tmp_path):
    folder = tmp_path / "model"
    shutil.copytree(spatial_model, folder)
    save_style_head(make_head(plain), folder, step=1)
    photo, style = (tmp_path / "photo.png", tmp_path / "style.png")
    generator = torch.Generator().manual_seed(4)
    for path in (photo, style):
        Image.fromarray((torch.rand(40, 48, 3, generator=generator) * 255).byte().numpy()).save(path)
    outputs = {}
    for name, model, extra in (("head", folder, []), ("declined", folder, ["--no-style-head"]),
                               ("plain", spatial_model, [])):  # fmt: skip
        outputs[name] = tmp_path / f"{name}.png"
        argv = ["transfer", photo, style, "-o", outputs[name], "--model", model, "--backend", "torch", *extra]
        assert main([str(a) for a in argv]) == 0
    read = {name: np.asarray(Image.open(path), dtype=np.int16) for name, path in outputs.items()}
    assert np.array_equal(read["declined"], read["plain"])
    assert np.abs(read["head"] - read["plain"]).max() > 2


def test_a_half_copy_of_a_model_keeps_its_style_head(plain, spatial_model, images, tmp_path):
    folder = tmp_path / "model"
    shutil.copytree(spatial_model, folder)
    save_style_head(make_head(plain), folder, step=5)
    out = tmp_path / "half"
    assert main(["export", "--model", str(folder), "--half", str(out)]) == 0
    head, meta = load_style_head(out)
    assert meta["step"] == 5 and (out / HEAD_FILE).stat().st_size < (folder / HEAD_FILE).stat().st_size
    contents, (style, _) = images
    full = Stylizer.load(folder, precision="fp32", backend="torch").transfer(contents, style)
    assert (Stylizer.load(out, precision="fp32", backend="torch").transfer(contents, style) - full).abs().max() <= 2e-2


def test_a_content_sized_head_answers_for_the_content_size_a_transfer_keeps(plain, images, tmp_path):
    """The content-size knob through the head: the same Style decodes with the head's codes for each k."""
    model = copy.deepcopy(plain.model)
    model.config = replace(model.config, nested_content=True)
    sized = Stylizer(model, precision="fp32", backend="torch", style_head=make_head(plain, content_sized=True))
    contents, (style, _) = images
    read = sized.style(style)  # the head's answer for all of z_c
    assert content_size_input(None, 8) == content_size_input(8, 8) == 1.0 and content_size_input(2, 8) == 1 / 3
    codes, offsets = sized.style_head(*read.head_input, content_size_input(2, 8))
    assert not torch.allclose(codes, read.latent, atol=1e-4)
    fixed = {size: Style(c, read.sources, read.weights, offsets=o) for size, (c, o) in
             (("all", (read.latent, read.offsets)), ("two", (codes, offsets)))}  # fmt: skip
    out = sized.transfer(contents, read, content_dim=2)
    assert torch.allclose(out, sized.transfer(contents, fixed["two"], content_dim=2), atol=1e-6)
    assert not torch.allclose(out, sized.transfer(contents, fixed["all"], content_dim=2), atol=1e-4)
    assert torch.equal(sized.transfer(contents, read, content_dim=8), sized.transfer(contents, read))
    save_style_head(sized.style_head.head, tmp_path, step=3)
    assert load_style_head(tmp_path)[0].content_sized and load_style_head(tmp_path)[1]["content_sized"]
    plain_read = plain.style(style)  # without a head: unchanged whatever the size
    assert plain._at_content_size(plain_read, None) is plain_read


def test_a_content_sized_head_exports_with_a_content_size_input(plain, tmp_path):
    """Its ONNX graph takes the content size too (the page passes log2 k / log2 K) and matches PyTorch."""
    import onnxruntime

    from waestyle.stylize.onnx_export import HEAD_GRAPH, _head_job, _run_exports, head_sidecar

    head = make_head(plain, content_sized=True)
    _run_exports([_head_job(plain.model, head)], tmp_path)
    generator = torch.Generator().manual_seed(5)
    z, statistics, size = torch.randn(3, 8, generator=generator), torch.randn(3, head.statistics_dim), torch.rand(3)
    session = onnxruntime.InferenceSession(str(tmp_path / HEAD_GRAPH))
    feeds = {"z_style": z.numpy(), "statistics": statistics.numpy(), "content_size": size.numpy()}
    codes, offsets = session.run(None, feeds)
    expected_codes, expected_offsets = head(z, statistics, size)
    assert np.abs(codes - expected_codes.detach().numpy()).max() <= 1e-5
    assert np.abs(offsets - torch.cat(expected_offsets, 1).detach().numpy()).max() <= 1e-5
    assert head_sidecar(plain.model, head)["inputs"] == ["z_style", "statistics", "content_size"]


def test_a_trained_head_made_content_sized_answers_as_before_and_can_learn_the_size(plain):
    """`train --init-head --widen-head` widens a trained head: the same answer at every k until it learns."""
    head = make_head(plain)
    sized = with_content_size(head)
    assert sized.content_sized and not head.content_sized and with_content_size(sized) is sized
    z, statistics = torch.randn(3, 8), torch.randn(3, head.statistics_dim)
    codes, offsets = head(z, statistics)
    for size in (torch.ones(3), torch.tensor([0.0, 1 / 3, 2 / 3])):
        sized_codes, sized_offsets = sized(z, statistics, size)
        assert torch.allclose(sized_codes, codes, atol=1e-6)  # (a longer sum: the same to rounding)
        assert all(torch.allclose(a, b, atol=1e-6) for a, b in zip(sized_offsets, offsets, strict=True))
    sized(z, statistics, torch.tensor([0.0, 1 / 3, 2 / 3]))[0].square().sum().backward()
    assert sized.net[0].weight.grad[:, -1].abs().sum() > 0  # the new input's column learns
