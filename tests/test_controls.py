"""Transfer-time style controls: strength, mixing, random styles, colour preservation, content size."""

import pytest
import torch
from PIL import Image

from waestyle.core.errors import WaestyleError
from waestyle.stylize.colors import preserve_colors, rgb_to_ycbcr, ycbcr_to_rgb
from waestyle.stylize.stylizer import Stylizer


@pytest.fixture(scope="module")
def stylizer(spatial_model):
    return Stylizer.load(spatial_model)


@pytest.fixture(scope="module")
def images():
    g = torch.Generator().manual_seed(0)
    return torch.rand(2, 3, 32, 32, generator=g), torch.rand(1, 3, 32, 32, generator=g), torch.rand(1, 3, 32, 32)


def test_mixing_with_weights_one_and_zero_equals_the_single_style(stylizer, images):
    contents, style_a, style_b = images
    single = stylizer.transfer(contents, style_a)
    mixed = stylizer.mix_styles([style_a, style_b], [1.0, 0.0])
    assert torch.allclose(stylizer.transfer(contents, mixed), single, atol=1e-6)
    halfway = stylizer.mix_styles([style_a, style_b], [3, 3])  # weights are scaled to sum to 1
    expected = (stylizer.style_latent(style_a) + stylizer.style_latent(style_b)) / 2
    assert torch.allclose(halfway, expected, atol=1e-6)
    with pytest.raises(WaestyleError, match="2 styles but 1 weights"):
        stylizer.mix_styles([style_a, style_b], [1.0])
    with pytest.raises(WaestyleError, match="non-negative"):
        stylizer.mix_styles([style_a, style_b], [1.0, -1.0])


def test_a_random_style_is_reproducible_with_its_seed(stylizer, images):
    contents = images[0]
    first = stylizer.transfer(contents, stylizer.random_style(7))
    assert torch.equal(first, stylizer.transfer(contents, stylizer.random_style(7)))
    assert not torch.allclose(first, stylizer.transfer(contents, stylizer.random_style(8)))
    assert stylizer.random_style(7).shape == (1, stylizer.config.style_dim)


def test_strength_zero_is_the_reconstruction_and_one_the_full_transfer(stylizer, images):
    contents, style, _ = images
    assert torch.allclose(stylizer.transfer(contents, style, strength=0.0), stylizer.reconstruct(contents), atol=1e-5)
    assert torch.allclose(stylizer.transfer(contents, style, strength=1.0), stylizer.transfer(contents, style))
    half = stylizer.transfer(contents, style, strength=0.5)
    assert not torch.allclose(half, stylizer.transfer(contents, style), atol=1e-4)


def test_keep_colors_takes_luminance_from_the_output_and_colour_from_the_content(stylizer, images):
    contents, style, _ = images
    kept = stylizer.transfer(contents, style, keep_colors=True)
    plain = stylizer.transfer(contents, style)
    # Equal luminance, up to pixels whose new colour falls out of gamut and is clamped.
    assert (rgb_to_ycbcr(kept)[:, 0] - rgb_to_ycbcr(plain)[:, 0]).abs().mean() < 0.02
    chroma_error_kept = (rgb_to_ycbcr(kept)[:, 1:] - rgb_to_ycbcr(contents)[:, 1:]).abs().mean()
    chroma_error_plain = (rgb_to_ycbcr(plain)[:, 1:] - rgb_to_ycbcr(contents)[:, 1:]).abs().mean()
    assert chroma_error_kept < 0.5 * chroma_error_plain
    photo = Image.new("RGB", (40, 30), (200, 30, 30))
    assert stylizer.transfer(photo, Image.new("RGB", (32, 32), "blue"), keep_colors=True).size == (40, 30)


def test_colour_space_round_trip_and_preserve_colors_identity():
    images = torch.rand(2, 3, 8, 8, generator=torch.Generator().manual_seed(3))
    assert torch.allclose(ycbcr_to_rgb(rgb_to_ycbcr(images)), images, atol=1e-3)
    assert torch.allclose(preserve_colors(images, images), images, atol=1e-3)


def test_content_dim_needs_a_nested_model_and_a_valid_size(stylizer, images):
    contents, style, _ = images
    assert torch.equal(
        stylizer.transfer(contents, style, content_dim=stylizer.config.content_dim), stylizer.transfer(contents, style)
    )
    with pytest.raises(WaestyleError, match="without --nested-content"):
        stylizer.transfer(contents, style, content_dim=2)
    with pytest.raises(WaestyleError, match="between 1 and"):
        stylizer.transfer(contents, style, content_dim=0)
