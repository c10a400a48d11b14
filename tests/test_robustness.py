"""Issue 8 (in progress): every kind of image a user may feed the CLI, with the outcome recorded.

Each case either works (an output of the expected size) or fails with one line naming the file and
exit status 1. `python scripts/robustness_table.py` runs this file and writes docs/ROBUSTNESS.md from
the recorded outcomes; the last test checks that the document lists every case.
"""

import io
import re
import struct
import zlib
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from waestyle.cli.main import main
from waestyle.stylize.stylizer import output_size

DOC = Path(__file__).resolve().parent.parent / "docs" / "ROBUSTNESS.md"


def _photo(size=(60, 40), mode="RGB") -> Image.Image:
    rng = np.random.default_rng(0)
    return Image.fromarray(rng.integers(0, 256, (size[1], size[0], 3), dtype=np.uint8)).convert(mode)


def _save(image: Image.Image, name: str, **options):
    def write(path: Path) -> None:
        image.save(path / name, **options)

    return write


def _bytes(name: str, data: bytes):
    def write(path: Path) -> None:
        (path / name).write_bytes(data)

    return write


def _truncated(name: str, fmt: str):
    buffer = io.BytesIO()
    _photo((200, 150)).save(buffer, format=fmt)
    return _bytes(name, buffer.getvalue()[: len(buffer.getvalue()) // 2])


def _bomb_png(name: str, side: int = 20_000):
    """A valid PNG header claiming side x side pixels (the data is never decoded)."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    header = chunk(b"IHDR", struct.pack(">IIBBBBB", side, side, 8, 2, 0, 0, 0))
    body = chunk(b"IDAT", zlib.compress(b"\0" * 64)) + chunk(b"IEND", b"")
    return _bytes(name, b"\x89PNG\r\n\x1a\n" + header + body)


def _exif_rotated(name: str):
    exif = Image.Exif()
    exif[0x0112] = 6  # rotate 90 degrees clockwise to display
    return _save(_photo((60, 40)), name, exif=exif)


def _animated_gif(name: str):
    frames = [_photo((60, 40)).convert("P"), _photo((60, 40)).rotate(180).convert("P")]
    return _save(frames[0], name, save_all=True, append_images=frames[1:], duration=100, loop=0)


def _sixteen_bit(name: str):
    array = (np.linspace(0, 65535, 60 * 40).reshape(40, 60)).astype(np.uint16)
    return _save(Image.fromarray(array), name)  # mode I;16


# (case, file name, writer, expected: ("works", (width, height) of the output) or ("error", message part))
CASES = [
    ("empty file", "empty.jpg", _bytes("empty.jpg", b""), ("error", "not an image")),
    ("truncated JPEG", "cut.jpg", _truncated("cut.jpg", "JPEG"), ("error", "truncated")),
    ("truncated PNG", "cut.png", _truncated("cut.png", "PNG"), ("error", "truncated")),
    ("HTML renamed .jpg", "page.jpg", _bytes("page.jpg", b"<html><body>not an image</body></html>"),
     ("error", "not an image")),
    ("PNG with a .jpg extension", "png.jpg", _save(_photo(), "png.jpg", format="PNG"), ("works", (32, 21))),
    ("1x1 pixel", "dot.png", _save(_photo((1, 1)), "dot.png"), ("works", (32, 32))),
    ("20000x20000 PNG (decompression bomb)", "bomb.png", _bomb_png("bomb.png"), ("error", "decompression bomb")),
    ("16-bit grayscale PNG", "deep.png", _sixteen_bit("deep.png"), ("works", (32, 21))),
    ("palette (P) PNG", "palette.png", _save(_photo().convert("P"), "palette.png"), ("works", (32, 21))),
    ("CMYK JPEG", "cmyk.jpg", _save(_photo(mode="CMYK"), "cmyk.jpg"), ("works", (32, 21))),
    ("grayscale JPEG", "gray.jpg", _save(_photo(mode="L"), "gray.jpg"), ("works", (32, 21))),
    ("RGBA PNG", "alpha.png", _save(_photo(mode="RGBA"), "alpha.png"), ("works", (32, 21))),
    ("animated GIF (first frame)", "anim.gif", _animated_gif("anim.gif"), ("works", (32, 21))),
    ("EXIF-rotated JPEG", "rotated.jpg", _exif_rotated("rotated.jpg"), ("works", (21, 32))),
    ("WebP", "photo.webp", _save(_photo(), "photo.webp"), ("works", (32, 21))),
    ("BMP", "photo.bmp", _save(_photo(), "photo.bmp"), ("works", (32, 21))),
    ("TIFF", "photo.tiff", _save(_photo(), "photo.tiff"), ("works", (32, 21))),
]  # fmt: skip


@pytest.mark.parametrize(("case", "name", "write", "expected"), CASES, ids=[c[0] for c in CASES])
@pytest.mark.parametrize("role", ["content", "style"])
def test_any_image_works_or_fails_with_one_line(
    tmp_path, capsys, tiny_model, image_dir, robustness, role, case, name, write, expected
):
    write(tmp_path)
    bad, good = tmp_path / name, image_dir / "img000.jpg"
    content, style = (bad, good) if role == "content" else (good, bad)
    out = tmp_path / "out" / "styled.png"
    status = main(["transfer", str(content), str(style), "-o", str(out), "--model", str(tiny_model)])
    err = capsys.readouterr().err.strip()
    kind, detail = expected
    if kind == "error":
        assert status == 1 and len(err.splitlines()) == 1, err
        assert err.startswith(f"waestyle: error: {bad}") and detail in err, err
        assert not out.exists()
        observed = f"exit 1, `{err.removeprefix('waestyle: error: ').replace(str(tmp_path) + '/', '')}`"
    else:
        assert status == 0, err
        with Image.open(out) as image:
            size = image.size
        # The output has the content's aspect ratio; a style image's shape does not matter.
        with Image.open(good) as photo:
            assert size == (detail if role == "content" else output_size(photo.size, 32)), size
        observed = f"exit 0, output {size[0]}x{size[1]}"
    robustness(f"image as {role}", case, kind, observed)


def test_the_robustness_document_lists_every_case():
    from .test_faults import FAULT_CASES
    from .test_properties import PROPERTY_ROWS

    text = DOC.read_text()
    cases = [(f"image as {role}", case) for case, *_ in CASES for role in ("content", "style")] + FAULT_CASES
    cases += [("property (hypothesis)", case) for _, case, _ in PROPERTY_ROWS]
    for area, case in cases:
        assert re.search(rf"^\| {re.escape(area)} \| {re.escape(case)} \|", text, flags=re.M), (area, case)
