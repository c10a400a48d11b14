"""The spatial architecture: fully convolutional, any image size in one pass, MMD over positions."""

import csv

import pytest
import torch
from PIL import Image
from torch import nn

from waestyle.core.config import ModelConfig
from waestyle.core.errors import WaestyleError
from waestyle.features import load_feature_network
from waestyle.models.blocks import reflect_conv3x3
from waestyle.models.wae import WAEStyleModel
from waestyle.stylize.stylizer import Stylizer
from waestyle.training.losses import latent_samples


def test_spatial_transfer_keeps_an_odd_input_size(spatial_model):
    stylizer = Stylizer.load(spatial_model)
    content = Image.new("RGB", (300, 517), "green")
    out = stylizer.transfer(content, Image.new("RGB", (90, 40), "purple"))
    assert isinstance(out, Image.Image) and out.size == (300, 517)
    assert stylizer.reconstruct(content).size == (300, 517)
    assert stylizer.transfer(content, content, long_side=100).size == (58, 100)


def test_spatial_tensors_keep_their_size_and_tiny_images_work(spatial_model):
    stylizer = Stylizer.load(spatial_model)
    g = torch.Generator().manual_seed(0)
    batch = torch.rand(2, 3, 37, 61, generator=g)
    z_style = stylizer.style_latent(torch.rand(1, 3, 32, 32, generator=g))
    out = stylizer.transfer(batch, z_style)
    assert out.shape == (2, 3, 37, 61) and 0 <= out.min() and out.max() <= 1
    assert stylizer.transfer(Image.new("RGB", (3, 2), "red"), z_style).size == (3, 2)
    # z_c is a map: one vector per 4x4 block of the input padded to a multiple of the stride.
    assert stylizer.content_latent(batch).shape == (2, 8, 10, 16)


@pytest.mark.parametrize("height, width", [(16, 24), (3, 17), (5, 3), (2, 2)])
def test_the_frame_redone_conv_equals_a_reflect_padded_conv(height, width):
    """The decoder's last convolution skips the padded copy; its values must not change, borders included."""
    torch.manual_seed(0)
    conv = nn.Conv2d(6, 3, 3, padding=1, padding_mode="reflect").double()
    x = torch.randn(2, 6, height, width, dtype=torch.double)
    with torch.no_grad():  # inference takes the frame path; with gradients (training) it is the plain conv
        torch.testing.assert_close(reflect_conv3x3(conv, x), conv(x), rtol=0, atol=1e-12)


def test_large_inputs_are_processed_at_max_side_and_returned_at_their_size(spatial_model):
    stylizer = Stylizer.load(spatial_model, max_side=64)
    out = stylizer.transfer(Image.new("RGB", (200, 100), "blue"), Image.new("RGB", (32, 32), "red"))
    assert out.size == (200, 100)


def test_the_spatial_model_is_translation_equivariant_away_from_borders():
    # No normalisation in the encoder: a code depends only on nearby pixels, as for training crops.
    torch.manual_seed(0)
    config = ModelConfig(arch="spatial", image_size=32, content_dim=8, style_dim=4, content_stride=4)
    model = WAEStyleModel(config, load_feature_network("efficientnet-lite0")).eval()
    image = torch.rand(1, 3, 64, 64)
    with torch.no_grad():
        whole = model.encode_content(image)
        part = model.encode_content(image[..., 16:48, 16:48])
    assert torch.allclose(whole[..., 6:10, 6:10], part[..., 2:6, 2:6], atol=1e-5)


def test_mmd_samples_of_a_spatial_latent_are_its_position_vectors():
    z = torch.arange(2 * 3 * 4 * 5, dtype=torch.float32).reshape(2, 3, 4, 5)
    samples = latent_samples(z, 1000, torch.Generator())
    assert samples.shape == (40, 3)
    assert torch.equal(samples[0], z[0, :, 0, 0])
    assert latent_samples(z, 16, torch.Generator()).shape == (16, 3)
    vector = torch.randn(8, 3)
    assert latent_samples(vector, 4, torch.Generator()) is vector


def test_style_consistency_terms_are_logged(spatial_model):
    with (spatial_model / "log.csv").open() as handle:
        row = list(csv.DictReader(handle))[-1]
    assert float(row["style"]) > 0 and float(row["content"]) > 0


def test_bad_spatial_settings_are_refused():
    with pytest.raises(WaestyleError, match="content-stride"):
        ModelConfig(arch="spatial", image_size=32, content_stride=16)
    with pytest.raises(WaestyleError, match="content-stride"):
        ModelConfig(arch="spatial", content_stride=6)
    with pytest.raises(WaestyleError, match="unknown architecture"):
        ModelConfig(arch="pixel")


def test_style_regions_start_as_the_plain_decoder_and_then_lay_the_style_per_region(tmp_path, spatial_model, image_dir):
    """A region model fine-tuned from a plain one draws what it drew; once its palettes differ, two pixels of
    one channel get different scales, which one palette per picture cannot do."""
    from waestyle.core.config import TrainConfig
    from waestyle.models.blocks import RegionStyleNorm
    from waestyle.training.loop import train

    with pytest.raises(WaestyleError, match="style-regions"):
        ModelConfig(style_regions=4)  # the global architecture has no decoder maps to split
    with pytest.raises(WaestyleError, match="style-regions"):
        ModelConfig(arch="spatial", style_regions=0)
    plain = Stylizer.load(spatial_model, precision="fp32", backend="torch")
    config = TrainConfig(data=[str(image_dir)], steps=1, batch_size=6, lr=1e-12, init_from=str(spatial_model))
    regions = ModelConfig(**{**plain.config.to_dict(), "style_regions": 4})
    train(regions, config, tmp_path / "regions", explicit=["style_regions"], progress=False)
    tuned = Stylizer.load(tmp_path / "regions", precision="fp32", backend="torch")
    assert tuned.config.style_regions == 4
    image = torch.rand(1, 3, 32, 32, generator=torch.Generator().manual_seed(3))
    assert torch.allclose(plain.reconstruct(image), tuned.reconstruct(image), atol=1e-4)

    norm = RegionStyleNorm(channels=4, style_dim=3, regions=2)
    with torch.no_grad():  # palettes of shifts alone (each region's scales stay 0)
        norm.to_region_scale_shift.weight.normal_().view(2, 8, 3)[:, :4] = 0
    x, z = torch.randn(1, 4, 8, 8), torch.randn(1, 3)
    shift = norm(x, z) - norm.norm(x)  # one palette per picture: one shift per channel, the same at every pixel
    assert norm.regions == 2 and shift.std(dim=(2, 3)).min() > 1e-3
