"""Refinement: the search lowers its objective, 0 steps changes nothing, it repeats, and the controls work with it."""

from dataclasses import replace

import pytest
import torch
from PIL import Image

from waestyle.core.errors import WaestyleError
from waestyle.data.images import pil_to_tensor
from waestyle.stylize.controls import keep_content
from waestyle.stylize.refine import RefineSettings
from waestyle.stylize.stylizer import Stylizer

from .conftest import write_images


@pytest.fixture(scope="module")
def stylizer(spatial_model):
    return Stylizer.load(spatial_model, precision="fp32")


@pytest.fixture(scope="module")
def pictures(tmp_path_factory):
    folder = tmp_path_factory.mktemp("refine-images")
    return [Image.open(p).convert("RGB") for p in write_images(folder, 3, seed=5)]


def test_the_search_lowers_its_objective(stylizer, pictures):
    content, style = pictures[0], pictures[1]
    z_style = stylizer.style_latent(style)
    stylizer.transfer(content, style, refine=1)  # loads the refiner
    refiner = stylizer._refiner
    target = refiner.target([stylizer.style_batch(style)])
    work = stylizer.work_batch(content)
    settings = RefineSettings(steps=8)
    refined, offsets = refiner.refine(work, z_style, target, settings)
    assert [o.shape[1] for o in offsets] == stylizer.model.decoder.modulation_sizes()
    with torch.no_grad():
        z_content = keep_content(stylizer.config, stylizer.model.encode_content(work), None)
        photo = refiner.content_map(work)
        size = tuple(work.shape[-2:])
        zeros = [torch.zeros_like(o) for o in offsets]
        before, start = refiner.objective(z_style, z_content, size, photo, target, settings, None, None, zeros)
        after, _ = refiner.objective(refined, z_content, size, photo, target, settings, None, start, offsets)
    assert after < before and not torch.equal(refined, z_style)
    assert all(o.abs().max() > 0 for o in offsets)  # every layer's scale and shift moved


def test_a_batch_weighs_each_image_by_its_own_start(stylizer, pictures):
    """Batched terms (what scripts/style_head.py learns the search with): each image's style distance over its
    own at the start, averaged; the same numbers as each image alone."""
    stylizer.transfer(pictures[0], pictures[1], refine=1)  # loads the refiner
    refiner, model, settings = stylizer._refiner, stylizer.model, RefineSettings(steps=1)
    contents = torch.stack([pil_to_tensor(p.resize((32, 32))) for p in pictures[:2]])
    styles = torch.stack([pil_to_tensor(p.resize((48, 48))) for p in pictures[1:]])
    with torch.no_grad():
        z_content, z_style = model.encode_content(contents), model.encode_style(styles)
        target, photo = refiner.stats.statistics(styles), refiner.content_map(contents)
        moved = z_style + 0.5 * torch.randn(z_style.shape, generator=torch.Generator().manual_seed(0))
        _, start = refiner.terms(z_style, z_content, (32, 32), photo, target, settings, None)
        batch, _ = refiner.terms(moved, z_content, (32, 32), photo, target, settings, None, start)
        alone = [
            refiner.terms(moved[i : i + 1], z_content[i : i + 1], (32, 32), photo[i : i + 1],
                          {k: v[i : i + 1] for k, v in target.items()}, settings, None, start[i : i + 1])[0]["style"]
            for i in range(2)
        ]  # fmt: skip
    assert start.shape == (2,) and batch["style"].item() != 1.0
    assert torch.allclose(batch["style"], torch.stack(alone).mean(), rtol=1e-4)


def test_zero_steps_is_todays_output_and_a_refinement_repeats(stylizer, pictures):
    content, style = pictures[0], pictures[1]
    plain = pil_to_tensor(stylizer.transfer(content, style))
    assert torch.equal(pil_to_tensor(stylizer.transfer(content, style, refine=0)), plain)
    first = pil_to_tensor(stylizer.transfer(content, style, refine=3))
    assert torch.equal(pil_to_tensor(stylizer.transfer(content, style, refine=3)), first)
    assert not torch.equal(first, plain)


def test_controls_mixes_and_batches_work_with_refinement(stylizer, pictures):
    content, a, b = pictures
    mixed = stylizer.style([a, b], weights=[3, 1])
    assert mixed.weights == [0.75, 0.25]
    out = stylizer.transfer(content, mixed, refine=2, strength=0.7, keep_colors=True, long_side=48)
    assert max(out.size) == 48
    batch = pil_to_tensor(content)[None].repeat(2, 1, 1, 1)
    tensor_out = stylizer.transfer(batch, stylizer.style(a), refine=2)
    assert tensor_out.shape[0] == 2 and torch.isfinite(tensor_out).all()
    results = stylizer.transfer_images([content, a], [stylizer.style(b), stylizer.style(a)], refine=1)
    assert len(results) == 2 and all(len(r) == 2 for r in results)


def test_a_style_computes_its_target_once_for_many_contents(stylizer, pictures, monkeypatch):
    content, a, b = pictures
    style = stylizer.style(a)
    stylizer.transfer(content, style, refine=1)
    calls = []
    monkeypatch.setattr(stylizer._refiner, "target", lambda *args: calls.append(args) or {})
    first = pil_to_tensor(stylizer.transfer(content, style, refine=2))  # the cached statistics, not a new pass
    stylizer.transfer_images([content, b], [style], refine=1)
    assert calls == [] and list(style.targets) == [RefineSettings().loss]
    monkeypatch.undo()
    assert torch.equal(pil_to_tensor(stylizer.transfer(content, stylizer.style(a), refine=2)), first)


def test_refinement_without_a_style_image_is_refused_clearly(stylizer, pictures):
    with pytest.raises(WaestyleError, match="style image"):
        stylizer.transfer(pictures[0], stylizer.random_style(1), refine=2)
    with pytest.raises(WaestyleError, match="prior"):
        stylizer.transfer(pictures[0], stylizer.style(stylizer.random_style(1)), refine=2)


@pytest.fixture(scope="module")
def bundled(bundled_export):
    """The bundled model in PyTorch (fp32) and on its graphs (the session's one export, see conftest)."""
    return Stylizer.load(precision="fp32", backend="torch"), Stylizer.load(backend="onnxruntime")


def test_the_onnx_runtime_backend_refines_with_pytorch(bundled, pictures):
    """The search runs in PyTorch; codes and norm offsets decode in the graph. One `Style` for both: Adam's first
    steps follow the gradients' signs, so a z_s from another backend (1e-6 apart) can end elsewhere."""
    stylizer, onnx = bundled
    content, style = pictures[0], stylizer.style(pictures[1])
    assert onnx.backend == "onnxruntime"
    for refine in (3, RefineSettings(steps=3, offsets=False), RefineSettings(steps=3, per_layer=False, offsets=False)):
        ours = pil_to_tensor(onnx.transfer(content, style, refine=refine))
        reference = pil_to_tensor(stylizer.transfer(content, style, refine=refine))  # PyTorch, fp32
        assert (ours - reference).abs().max() <= 2 / 255
        assert not torch.equal(ours, pil_to_tensor(onnx.transfer(content, style)))


def test_a_per_layer_code_of_equal_rows_decodes_as_the_shared_code_and_the_search_uses_one(stylizer, pictures):
    model, work = stylizer.model, stylizer.work_batch(pictures[0])
    z_style = stylizer.style_latent(pictures[1])
    layers = model.decoder.styled_layers
    assert layers == 1 + 2 * stylizer.config.res_blocks + len(stylizer.config.widths())
    with torch.no_grad():
        z_content = model.encode_content(work)
        shared = model.decode(z_content, z_style, 4)
        per_layer = model.decode(z_content, z_style[:, None].expand(-1, layers, -1), 4)
    assert torch.allclose(shared, per_layer, atol=1e-6)
    stylizer.transfer(pictures[0], pictures[1], refine=1)  # loads the refiner
    refiner, target = stylizer._refiner, stylizer._refiner.target([stylizer.style_batch(pictures[1])])
    assert refiner.refine(work, z_style, target, RefineSettings(steps=2))[0].shape == (1, layers, z_style.shape[1])
    shared, offsets = refiner.refine(work, z_style, target, RefineSettings(steps=2, per_layer=False, offsets=False))
    assert shared.shape == z_style.shape and offsets is None


def test_norm_offsets_of_zero_change_nothing_and_strength_scales_them(stylizer, pictures):
    model, work = stylizer.model, stylizer.work_batch(pictures[0])
    z_style = stylizer.style_latent(pictures[1])
    with torch.no_grad():
        z_content = model.encode_content(work)
        zeros = [torch.zeros(1, size) for size in model.decoder.modulation_sizes()]
        assert torch.equal(model.decode(z_content, z_style, None, zeros), model.decode(z_content, z_style))
    refined = stylizer.refined_style(pictures[0], stylizer.style(pictures[1]), 3)
    full = pil_to_tensor(stylizer.transfer(pictures[2], refined))
    codes_only = pil_to_tensor(stylizer.transfer(pictures[2], replace(refined, offsets=None)))
    assert not torch.equal(full, codes_only)
    own = pil_to_tensor(stylizer.reconstruct(pictures[2]))
    assert (pil_to_tensor(stylizer.transfer(pictures[2], refined, strength=0.0)) - own).abs().max() <= 1 / 255


def test_a_refined_style_is_reused_without_a_new_search_and_can_be_refined_again(stylizer, pictures):
    """What a video does: refine on the first frame, then decode every frame with the refined per-layer codes."""
    content, other, style = pictures
    refined = stylizer.refined_style(content, stylizer.style(style), 3, strength=0.8)
    assert refined.latent.shape == (1, stylizer.model.decoder.styled_layers, stylizer.config.style_dim)
    direct = pil_to_tensor(stylizer.transfer(content, stylizer.style(style), refine=3, strength=0.8))
    assert torch.equal(pil_to_tensor(stylizer.transfer(content, refined)), direct)
    reused = pil_to_tensor(stylizer.transfer(other, refined))  # a decode with those codes, no search
    assert not torch.equal(reused, pil_to_tensor(stylizer.transfer(other, style)))
    again = stylizer.refined_style(content, refined, 2)  # per-layer codes refine further
    assert again.latent.shape == refined.latent.shape and not torch.equal(again.latent, refined.latent)


def test_the_onnx_graph_decodes_per_layer_codes_and_offsets_as_pytorch_does(bundled, pictures):
    stylizer, onnx = bundled
    assert onnx.networks.onnx.layers == stylizer.model.decoder.styled_layers
    with_offsets = stylizer.refined_style(pictures[0], stylizer.style(pictures[1]), 3)
    codes = replace(with_offsets, offsets=None)
    calls = []
    run = onnx.networks.onnx.transfer.run
    onnx.networks.onnx.transfer.run = lambda *args: calls.append(args) or run(*args)  # the graph, not PyTorch
    ours = pil_to_tensor(onnx.transfer(pictures[2], codes))
    assert calls and calls[0][1]["z_style"].shape == tuple(codes.latent.shape)
    assert (ours - pil_to_tensor(stylizer.transfer(pictures[2], codes))).abs().max() <= 2 / 255
    calls.clear()  # and the norm offsets, end to end
    ours = pil_to_tensor(onnx.transfer(pictures[2], with_offsets))
    assert calls and calls[0][1]["offsets"].shape == (1, sum(stylizer.model.decoder.modulation_sizes()))
    assert (ours - pil_to_tensor(stylizer.transfer(pictures[2], with_offsets))).abs().max() <= 2 / 255
