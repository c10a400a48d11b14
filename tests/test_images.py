"""Image loading never crashes on bad files and gets orientation and colour modes right."""

import numpy as np
import pytest
from PIL import Image

from waestyle.core.errors import WaestyleError
from waestyle.data.images import load_image, make_grid, pil_to_tensor, resize_center_crop, save_image, tensor_to_pil


def test_missing_non_image_and_truncated_files_give_clear_errors(tmp_path):
    with pytest.raises(WaestyleError, match="no such file"):
        load_image(tmp_path / "nope.jpg")
    (tmp_path / "page.jpg").write_text("<html>not an image</html>")
    with pytest.raises(WaestyleError, match="not an image"):
        load_image(tmp_path / "page.jpg")
    Image.new("RGB", (200, 200), "red").save(tmp_path / "full.jpg", quality=95)
    data = (tmp_path / "full.jpg").read_bytes()
    (tmp_path / "cut.jpg").write_bytes(data[: len(data) // 2])
    with pytest.raises(WaestyleError, match="truncated"):
        load_image(tmp_path / "cut.jpg")


def test_pixel_limit_is_checked_before_decoding(tmp_path):
    Image.new("RGB", (300, 200)).save(tmp_path / "big.png")
    assert load_image(tmp_path / "big.png", max_pixels=60_000).size == (300, 200)
    with pytest.raises(WaestyleError, match="above the limit"):
        load_image(tmp_path / "big.png", max_pixels=59_999)


def test_exif_orientation_is_respected(tmp_path):
    image = Image.new("RGB", (40, 20), "blue")
    exif = Image.Exif()
    exif[0x0112] = 6  # "rotate 90 clockwise to display"
    image.save(tmp_path / "rotated.jpg", exif=exif)
    assert load_image(tmp_path / "rotated.jpg").size == (20, 40)


@pytest.mark.parametrize(
    ("mode", "value", "expected"),
    [
        ("L", 128, (128, 128, 128)),
        ("RGBA", (255, 0, 0, 0), (255, 255, 255)),  # fully transparent -> white background
        ("RGBA", (255, 0, 0, 255), (255, 0, 0)),
        ("CMYK", (0, 255, 255, 0), (255, 0, 0)),
        ("I;16", 65535, (255, 255, 255)),
    ],
)
def test_colour_modes_become_rgb(tmp_path, mode, value, expected):
    path = tmp_path / ("x.tiff" if mode in ("CMYK", "I;16") else "x.png")
    Image.new(mode, (4, 4), value).save(path)
    image = load_image(path)
    assert image.mode == "RGB"
    assert image.getpixel((1, 1)) == expected


def test_resize_center_crop_and_tensor_round_trip():
    image = Image.fromarray(np.random.default_rng(0).integers(0, 256, (50, 90, 3), dtype=np.uint8))
    square = resize_center_crop(image, 32)
    assert square.size == (32, 32)
    tensor = pil_to_tensor(square)
    assert tensor.shape == (3, 32, 32) and 0 <= tensor.min() and tensor.max() <= 1
    assert np.array_equal(np.asarray(tensor_to_pil(tensor)), np.asarray(square))
    grid = make_grid([tensor[None].repeat(3, 1, 1, 1), tensor[None]], pad=2)
    assert grid.size == (3 * 34 + 2, 2 * 34 + 2)


def test_save_image_is_atomic_and_leaves_no_temporary_files(tmp_path):
    save_image(Image.new("RGB", (8, 8)), tmp_path / "out" / "a.png")
    assert [p.name for p in (tmp_path / "out").iterdir()] == ["a.png"]
    with pytest.raises(WaestyleError, match="extension"):
        save_image(Image.new("RGB", (8, 8)), tmp_path / "out" / "a.xyz")
    assert [p.name for p in (tmp_path / "out").iterdir()] == ["a.png"]


def test_large_jpegs_decode_at_a_reduced_scale_that_still_covers_the_need(tmp_path):
    from waestyle.data.images import decode_image

    path = tmp_path / "big.jpg"
    Image.new("RGB", (1600, 1200), (200, 100, 50)).save(path, quality=90)
    assert decode_image(path, "big", min_long_side=700).size == (800, 600)  # 1/2: the smallest scale >= 700
    assert decode_image(path, "big", min_long_side=150).size == (200, 150)  # 1/8
    assert decode_image(path, "big").size == (1600, 1200)
