"""Property-based tests (hypothesis): any image of any size and mode loads, and transfers to the right size.

The outcomes go into docs/ROBUSTNESS.md with the number of generated examples.
"""

from pathlib import Path

import numpy as np
import pytest
import torch
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from PIL import Image

from waestyle.core.errors import WaestyleError
from waestyle.data.images import load_image
from waestyle.stylize.stylizer import Stylizer, output_size

MODES = ["RGB", "L", "RGBA", "LA", "P", "CMYK", "I;16", "1"]
EXAMPLES = 40
COUNTS: dict[str, int] = {}
PROPERTY_ROWS = [
    ("load", "any image, 1-64 px, modes RGB/L/RGBA/LA/P/CMYK/I;16/1, saved as PNG/TIFF/WebP/BMP/GIF/JPEG",
     "loads as RGB, same size"),
    ("bytes", "arbitrary bytes (0-400) after PNG/JPEG/GIF/RIFF magic or none", "an image or a clear error"),
    ("pil", "any content and style image, 1-80 px, any mode, global and spatial models",
     "output at the documented size"),
    ("tensor", "any (B, 3, H, W) batch, B 1-3, H and W 1-48, global and spatial models",
     "output of the documented shape, finite, in [0, 1]"),
]  # fmt: skip


@st.composite
def images(draw, max_side: int = 64) -> Image.Image:
    width, height = draw(st.integers(1, max_side)), draw(st.integers(1, max_side))
    seed = draw(st.integers(0, 2**32 - 1))
    mode = draw(st.sampled_from(MODES))
    rgb = np.random.default_rng(seed).integers(0, 256, (height, width, 3), dtype=np.uint8)
    image = Image.fromarray(rgb)
    if mode == "I;16":
        return Image.fromarray(rgb[..., 0].astype(np.uint16) * 257)
    return image.convert(mode)


def _count(name: str) -> None:
    COUNTS[name] = COUNTS.get(name, 0) + 1


@settings(max_examples=EXAMPLES, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(image=images(), fmt=st.sampled_from(["PNG", "TIFF", "WEBP", "BMP", "GIF", "JPEG"]))
def test_any_saved_image_loads_as_rgb_of_its_size(tmp_path_factory, image, fmt):
    path = tmp_path_factory.mktemp("img") / f"x.{fmt.lower()}"
    try:
        image.save(path, format=fmt)
    except (OSError, KeyError, ValueError):  # the format cannot store this mode: save what it can, as a user would
        image = image.convert("RGB")
        image.save(path, format=fmt)
    loaded = load_image(path)
    assert loaded.mode == "RGB" and loaded.size == image.size
    _count("load")


@settings(max_examples=EXAMPLES, deadline=None)
@given(data=st.binary(min_size=0, max_size=400), prefix=st.sampled_from([b"", b"\x89PNG\r\n\x1a\n", b"\xff\xd8\xff",
                                                                         b"GIF89a", b"RIFF"]))  # fmt: skip
def test_arbitrary_bytes_load_or_give_a_clear_error(tmp_path_factory, data, prefix):
    path = tmp_path_factory.mktemp("bytes") / "x.jpg"
    path.write_bytes(prefix + data)
    try:
        assert load_image(path).mode == "RGB"
    except WaestyleError as err:
        assert str(err).startswith(str(path))
    _count("bytes")


@pytest.fixture(scope="module")
def stylizers(tiny_model, spatial_model):
    return {"global": Stylizer.load(tiny_model), "spatial": Stylizer.load(spatial_model)}


@settings(max_examples=EXAMPLES, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(content=images(80), style=images(80), arch=st.sampled_from(["global", "spatial"]))
def test_any_pil_pair_transfers_to_the_documented_size(stylizers, content, style, arch):
    from waestyle.data.images import to_rgb

    stylizer = stylizers[arch]
    out = stylizer.transfer(to_rgb(content), to_rgb(style))
    expected = content.size if arch == "spatial" else output_size(content.size, stylizer.image_size)
    assert out.size == expected and out.mode == "RGB"
    _count("pil")


@settings(max_examples=EXAMPLES, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(batch=st.integers(1, 3), height=st.integers(1, 48), width=st.integers(1, 48),
       arch=st.sampled_from(["global", "spatial"]))  # fmt: skip
def test_any_tensor_batch_transfers_to_the_documented_shape(stylizers, batch, height, width, arch):
    stylizer = stylizers[arch]
    contents = torch.rand(batch, 3, height, width)
    out = stylizer.transfer(contents, torch.rand(1, 3, 40, 40))
    side = stylizer.image_size
    assert out.shape == ((batch, 3, height, width) if arch == "spatial" else (batch, 3, side, side))
    assert torch.isfinite(out).all() and 0 <= out.min() and out.max() <= 1
    _count("tensor")


def test_record_the_properties(robustness):
    """Runs after the properties above (file order) and records how many examples each passed."""
    rows = PROPERTY_ROWS
    for key, case, expected in rows:
        if COUNTS.get(key):
            robustness("property (hypothesis)", case, expected, f"held for {COUNTS[key]} generated examples")
    assert Path(__file__).is_file()
