"""The Python API: PIL in, PIL out at the content's aspect ratio; tensors in, tensors out."""

import torch
from PIL import Image

from waestyle.stylize.stylizer import Stylizer, output_size


def test_output_size_keeps_the_aspect_ratio():
    assert output_size((300, 517), 64) == (37, 64)
    assert output_size((640, 480), 128) == (128, 96)
    assert output_size((10, 1000), 32) == (1, 32)


def test_pil_transfer_returns_the_content_aspect_ratio(tiny_model):
    stylizer = Stylizer.load(tiny_model)
    content = Image.new("RGB", (300, 517), "green")
    style = Image.new("RGB", (90, 40), "purple")
    out = stylizer.transfer(content, style)
    assert isinstance(out, Image.Image) and out.mode == "RGB"
    assert out.size == (19, 32)  # long side = the model's 32 px
    assert stylizer.transfer(content, style, long_side=517).size == (300, 517)
    assert stylizer.reconstruct(content).size == (19, 32)


def test_tensor_batches_and_reused_style_latents(tiny_model):
    stylizer = Stylizer.load(tiny_model, precision="fp32")  # bf16 kernels may block a batch differently
    g = torch.Generator().manual_seed(0)
    contents, style = torch.rand(4, 3, 32, 32, generator=g), torch.rand(1, 3, 50, 70, generator=g)
    out = stylizer.transfer(contents, style)
    assert out.shape == (4, 3, 32, 32) and 0 <= out.min() and out.max() <= 1
    z_style = stylizer.style_latent(style)
    assert z_style.shape == (1, stylizer.config.style_dim)
    assert torch.allclose(stylizer.transfer(contents, z_style), out)
    # One forward pass per pair: the batch result equals the pairs done one at a time.
    single = torch.cat([stylizer.transfer(c[None], style) for c in contents])
    assert torch.allclose(single, out, atol=1e-5)


def test_different_styles_give_different_outputs(tiny_model):
    stylizer = Stylizer.load(tiny_model)
    content = torch.rand(1, 3, 32, 32, generator=torch.Generator().manual_seed(1))
    dark, bright = torch.full((1, 3, 32, 32), 0.1), torch.full((1, 3, 32, 32), 0.9)
    assert not torch.allclose(stylizer.transfer(content, dark), stylizer.transfer(content, bright))


def test_many_styles_share_one_content_encoding_per_batch(tiny_model, monkeypatch):
    stylizer = Stylizer.load(tiny_model, backend="torch")  # counts the PyTorch encoder's calls
    calls = []
    encode = stylizer.model.encode_content
    monkeypatch.setattr(stylizer.model, "encode_content", lambda images: calls.append(len(images)) or encode(images))
    contents = [Image.new("RGB", (40, 30), colour) for colour in ("red", "green", "blue")]
    z_styles = [stylizer.random_style(seed) for seed in range(3)] + [None]
    results = stylizer.transfer_images(contents, z_styles, batch_size=2)
    assert calls == [2, 1]  # two batches, each encoded once for all four styles
    assert [len(per_style) for per_style in results] == [3, 3, 3, 3]
    assert results[0][0].size == stylizer.transfer(contents[0], z_styles[0]).size


def test_bf16_convolutions_match_fp32_closely_and_bad_precision_is_refused(spatial_model):
    import pytest

    from waestyle.core.errors import WaestyleError

    content = Image.fromarray((torch.rand(48, 64, 3, generator=torch.Generator().manual_seed(0)) * 255).byte().numpy())
    style = Image.fromarray((torch.rand(40, 40, 3, generator=torch.Generator().manual_seed(1)) * 255).byte().numpy())
    exact = Stylizer.load(spatial_model, precision="fp32")
    fast = Stylizer.load(spatial_model, precision="bf16")
    assert not exact.bf16 and fast.bf16
    from waestyle.data.images import pil_to_tensor

    a, b = (pil_to_tensor(s.transfer(content, style)) * 255 for s in (exact, fast))
    assert (a - b).abs().mean() < 4.0  # of 255: bf16 rounding, not another image
    with pytest.raises(WaestyleError, match="precision"):
        Stylizer.load(spatial_model, precision="fp8")
