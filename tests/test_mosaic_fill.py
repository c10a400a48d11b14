"""The mosaic fill: a small content size draws the style picture's own shapes, in new places."""

from dataclasses import replace

import pytest
import torch

from waestyle.core.config import ModelConfig, TrainConfig
from waestyle.core.errors import WaestyleError
from waestyle.data.samples import photo_crops, procedural_style
from waestyle.evaluation.runner import square_batch
from waestyle.models.mosaic import code_mosaic, mosaic_patch
from waestyle.models.wae import content_fill
from waestyle.stylize.stylizer import Stylizer
from waestyle.training.loop import train

from .conftest import write_images


def test_a_mosaic_holds_only_the_codes_own_values_in_new_places():
    code = torch.randn(2, 3, 16, 16)
    mosaic = code_mosaic(code, (20, 24), torch.Generator().manual_seed(0))
    assert mosaic.shape == (2, 3, 20, 24)
    for image, source in zip(mosaic, code, strict=True):  # feathered crops: each value a blend of its own code's
        low, high = source.amin(dim=(1, 2)), source.amax(dim=(1, 2))
        assert (image >= low[:, None, None] - 1e-5).all() and (image <= high[:, None, None] + 1e-5).all()
    again = code_mosaic(code, (20, 24), torch.Generator().manual_seed(0))
    assert torch.equal(mosaic, again) and not torch.allclose(mosaic[:, :, :16, :16], code)
    assert code_mosaic(torch.full((1, 2, 8, 8), 3.0), (5, 7)).sub(3).abs().max() < 1e-6


def test_patches_are_a_share_of_the_pictures_grid_a_quarter_unless_the_model_says():
    assert (mosaic_patch(16, 16), mosaic_patch(64, 48), mosaic_patch(4, 4)) == (4, 12, 2)
    assert (mosaic_patch(16, 16, 0.5), mosaic_patch(64, 48, 0.5), mosaic_patch(64, 64, 1.0)) == (8, 24, 64)
    for bad in (0.0, 1.5):
        with pytest.raises(WaestyleError, match="mosaic-share"):
            ModelConfig(arch="spatial", nested_content=True, content_fill="mosaic", mosaic_share=bad)
    half = ModelConfig(arch="spatial", nested_content=True, content_fill="mosaic", mosaic_share=0.5)
    code, z = torch.randn(1, 3, 16, 16), torch.zeros(1, 3, 12, 12)
    filled = content_fill(half, z, torch.Generator().manual_seed(1), code)
    assert torch.equal(filled, code_mosaic(code, (12, 12), torch.Generator().manual_seed(1), share=0.5))
    assert not torch.equal(filled, code_mosaic(code, (12, 12), torch.Generator().manual_seed(1)))


def test_a_mosaic_model_needs_the_style_code_and_waestyle_train_trains_one(tmp_path):
    with pytest.raises(WaestyleError, match="needs --arch spatial"):
        ModelConfig(nested_content=True, content_fill="mosaic")
    config = ModelConfig(arch="spatial", nested_content=True, content_fill="mosaic")
    with pytest.raises(WaestyleError, match="style image"):
        content_fill(config, torch.zeros(2, 4, 3, 3))
    # the trainer fills a reconstruction from the image's own code and a swap from its style neighbour's
    write_images(tmp_path / "data", 6)
    model = ModelConfig(arch="spatial", image_size=32, content_dim=8, style_dim=8, content_stride=4, base_channels=8,
                        nested_content=True, content_fill="mosaic")  # fmt: skip
    settings = TrainConfig(data=[str(tmp_path / "data")], steps=2, batch_size=4, checkpoint_every=2, sample_every=2,
                           style_loss_weight=0.1)  # fmt: skip
    train(model, settings, tmp_path / "run", progress=False)
    stylizer = Stylizer.load(tmp_path / "run", backend="torch")
    assert stylizer.config.content_fill == "mosaic"
    contents, style = square_batch(photo_crops(1, seed=3), 32), square_batch([procedural_style(6)], 32)
    with_picture = stylizer.transfer(contents, style, content_dim=2)
    assert not torch.allclose(with_picture, stylizer.transfer(contents, stylizer.style_latent(style), content_dim=2))


def as_mosaic(stylizer: Stylizer) -> Stylizer:
    stylizer.model.config = replace(stylizer.model.config, nested_content=True, content_fill="mosaic")
    return stylizer


def test_a_small_content_size_draws_from_the_style_picture(spatial_model):
    """A model trained with the zero fill, read as a mosaic-filled one: the plumbing, not the quality."""
    stylizer = as_mosaic(Stylizer.load(spatial_model, backend="torch"))
    contents = square_batch(photo_crops(2, seed=1), 32)
    first, second = (stylizer.style(square_batch([procedural_style(seed)], 48)) for seed in (3, 4))
    assert first.picture.shape == (1, 3, 48, 48)
    out = stylizer.transfer(contents, first, content_dim=2)
    assert torch.equal(out, stylizer.transfer(contents, first, content_dim=2))  # seeded: a function of its inputs
    # the fill is the picture's: another picture with the same latent gives another image
    assert not torch.allclose(out, stylizer.transfer(contents, replace(first, picture=second.picture), content_dim=2))
    # a style with no picture (a latent) keeps the zero fill the model started from
    plain = Stylizer.load(spatial_model, backend="torch")
    plain.model.config = replace(plain.model.config, nested_content=True)
    zeroed = plain.transfer(contents, first.latent, content_dim=2)
    assert torch.allclose(stylizer.transfer(contents, first.latent, content_dim=2), zeroed)
    assert not torch.allclose(out, zeroed)
    assert stylizer.reconstruct(contents, content_dim=2).shape == contents.shape  # its own picture fills it
    # refinement searches with the fill the transfer will decode with
    seen = []
    stylizer.transfer(contents[:1], first, content_dim=2, refine=1)  # loads the refiner
    original = stylizer._refiner.refine
    stylizer._refiner.refine = lambda *args: seen.append(args[-1]) or original(*args)
    stylizer.transfer(contents[:1], first, content_dim=2, refine=1)
    assert seen and torch.equal(seen[0], first.picture)


def test_the_onnx_backend_runs_a_mosaic_fill_in_pytorch(bundled_export):
    """Transfers that keep all of z_c stay on the graphs; a dropped channel's fill is drawn in PyTorch."""
    graphs = as_mosaic(Stylizer.load(backend="onnxruntime"))
    eager = as_mosaic(Stylizer.load(precision="fp32", backend="torch"))
    assert graphs.networks.onnx is not None
    contents = square_batch(photo_crops(1, seed=2), 64)
    style = graphs.style(square_batch([procedural_style(5)], 64))
    outputs = [stylizer.transfer(contents, style, content_dim=4, style_scale=8) for stylizer in (graphs, eager)]
    assert (outputs[0] - outputs[1]).abs().max() < 1e-3
