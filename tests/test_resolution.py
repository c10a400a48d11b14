"""Resolution: a spatial model stylises at a working size set by --style-scale, outputs at the content's size
with its fine detail, and reads style images at the model's style size."""

import pytest
import torch
from PIL import Image

from waestyle.cli.main import main
from waestyle.core.config import ModelConfig
from waestyle.core.errors import WaestyleError
from waestyle.data.samples import photo_crops
from waestyle.features import load_feature_network
from waestyle.models.wae import WAEStyleModel
from waestyle.stylize.resolution import resize, restore_detail, work_long_side
from waestyle.stylize.stylizer import Stylizer


def test_the_working_size_follows_the_style_scale_within_max_side():
    assert work_long_side(1.0, 2048) == 512
    assert work_long_side(2.0, 2048) == 256  # larger texture: stylised smaller, then enlarged
    assert work_long_side(0.5, 2048) == 1024
    assert work_long_side(0.25, 700) == 700
    with pytest.raises(WaestyleError, match="--style-scale"):
        work_long_side(0.0, 2048)


def test_detail_is_added_only_above_the_working_size():
    g = torch.Generator().manual_seed(0)
    flat = torch.full((1, 3, 64, 64), 0.5)
    fine = torch.rand(1, 3, 64, 64, generator=g)
    assert torch.equal(restore_detail(flat, fine, (64, 64)), flat)
    detailed = restore_detail(flat, fine, (16, 16))
    assert (detailed - flat).abs().mean() > 0.05  # the content's fine detail is back
    # ... and only the fine detail: at the working size the result is still the stylised output.
    assert (resize(detailed, (16, 16)) - resize(flat, (16, 16))).abs().mean() < 0.02
    assert torch.allclose(detailed[:, 0], detailed[:, 1])  # luminance only: the output's colours stay


@pytest.fixture(scope="module")
def style_sized():
    config = ModelConfig(arch="spatial", image_size=32, content_dim=8, style_dim=8, content_stride=4,
                         base_channels=8, features="random-vgg19-quarter", style_size=96, res_blocks=2)  # fmt: skip
    torch.manual_seed(0)
    return Stylizer(WAEStyleModel(config, load_feature_network(config.features)))


def test_style_images_are_read_whole_at_the_style_size(style_sized):
    assert tuple(style_sized.style_batch(Image.new("RGB", (300, 100))).shape) == (1, 3, 32, 96)
    assert tuple(style_sized.style_batch(torch.rand(2, 3, 50, 200)).shape) == (2, 3, 24, 96)
    assert style_sized.style_latent(Image.new("RGB", (300, 100), "red")).shape == (1, 8)


def test_large_contents_are_stylised_at_the_working_size(style_sized, monkeypatch):
    seen = []
    encode = style_sized.model.encode_content
    monkeypatch.setattr(style_sized.model, "encode_content", lambda x: seen.append(tuple(x.shape[-2:])) or encode(x))
    photo = photo_crops(1, seed=0, max_side=300)[0].resize((1200, 800))
    style = Image.new("RGB", (64, 64), "red")
    out = style_sized.transfer(photo, style)
    assert out.size == (1200, 800) and seen[-1] == (344, 512)  # 512 x 341, padded to the stride
    style_sized.transfer(photo, style, style_scale=2.0)
    assert seen[-1] == (172, 256)
    batch = torch.rand(1, 3, 600, 900)
    assert style_sized.transfer(batch, style_sized.style_latent(style)).shape == (1, 3, 600, 900)
    assert seen[-1] == (344, 512)


def test_the_cli_offers_the_style_scale(tmp_path, spatial_model, capsys):
    photo = photo_crops(1, seed=1, max_side=120)[0]
    photo.save(tmp_path / "c.png")
    Image.new("RGB", (40, 40), "green").save(tmp_path / "s.png")
    base = ["transfer", str(tmp_path / "c.png"), str(tmp_path / "s.png"), "--model", str(spatial_model)]
    assert main([*base, "-o", str(tmp_path / "a.png"), "--style-scale", "2"]) == 0
    assert Image.open(tmp_path / "a.png").size == photo.size
    assert main([*base, "-o", str(tmp_path / "b.png"), "--style-scale", "0"]) == 1
    assert "--style-scale must be from 0.1 to 10" in capsys.readouterr().err
