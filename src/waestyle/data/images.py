"""Safe image reading and writing: every failure becomes a one-line WaestyleError naming the file."""

import io
import math
import warnings
from pathlib import Path
from typing import BinaryIO

import numpy as np
import torch
from PIL import Image, ImageOps, UnidentifiedImageError

from waestyle.core.config import DEFAULT_MAX_PIXELS
from waestyle.core.errors import WaestyleError
from waestyle.core.files import atomic_write_bytes

IMAGE_EXTENSIONS = (".jpg", ".jpeg", ".png", ".webp", ".bmp")


class ImageTooLarge(WaestyleError):
    """More pixels than allowed, or a decompression bomb (the web app answers 413)."""


class NotAnImage(WaestyleError):
    """Data no image reader recognises (the web app answers 415)."""


def load_image(path: str | Path, max_pixels: int = DEFAULT_MAX_PIXELS) -> Image.Image:
    """Open any image Pillow reads as RGB, upright per its EXIF orientation, refusing huge ones."""
    path = Path(path)
    if not path.exists():
        raise WaestyleError(f"{path}: no such file")
    if not path.is_file():
        raise WaestyleError(f"{path}: not a file")
    return decode_image(path, str(path), max_pixels)


def decode_image(
    source: str | Path | BinaryIO, label: str, max_pixels: int = DEFAULT_MAX_PIXELS, min_long_side: int | None = None
) -> Image.Image:
    """`load_image` for a file or a file-like object (an upload): errors name `label`.

    The pixel count is read from the header and checked before any decoding. With `min_long_side`, a JPEG
    larger than needed is decoded at a reduced scale (1/2, 1/4 or 1/8: Pillow's draft mode, which the JPEG
    decoder does almost for free) whose long side is still at least that: a 20-megapixel upload bound for a
    2048-px output then takes a quarter of the memory and time.
    """
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            with Image.open(source) as image:
                width, height = image.size
                if width * height > max_pixels:
                    raise ImageTooLarge(
                        f"{label}: {width}x{height} is {width * height:,} pixels, above the limit of "
                        f"{max_pixels:,} pixels (raise it with --max-pixels)"
                    )
                if min_long_side and image.format == "JPEG" and max(width, height) > min_long_side:
                    scale = min_long_side / max(width, height)
                    image.draft("RGB", (math.ceil(width * scale), math.ceil(height * scale)))
                image.load()
                return to_rgb(ImageOps.exif_transpose(image))
    except WaestyleError:
        raise
    except UnidentifiedImageError as err:
        raise NotAnImage(f"{label}: not an image file Pillow can read") from err
    except (Image.DecompressionBombError, Image.DecompressionBombWarning) as err:
        raise ImageTooLarge(f"{label}: refused as a decompression bomb ({err})") from err
    except (OSError, SyntaxError, ValueError) as err:  # truncated data, broken headers
        raise WaestyleError(f"{label}: corrupt or truncated image ({str(err).splitlines()[0]})") from err


def to_rgb(image: Image.Image) -> Image.Image:
    """8-bit RGB from any mode: transparency over white, 16-bit and float scaled, CMYK converted."""
    if image.mode in ("I;16", "I;16B", "I;16L", "I", "F"):
        array = np.asarray(image, dtype=np.float64)
        top = 65535.0 if image.mode.startswith("I;16") or array.max() > 255 else 255.0
        if image.mode == "F":
            top = max(float(array.max()), 1.0)
        gray = np.clip(array / top * 255.0 + 0.5, 0, 255).astype(np.uint8)
        return Image.fromarray(gray, "L").convert("RGB")
    if image.mode == "P" and "transparency" in image.info:
        image = image.convert("RGBA")
    if image.mode in ("RGBA", "LA", "PA", "RGBa", "La"):
        rgba = image.convert("RGBA")
        background = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
        return Image.alpha_composite(background, rgba).convert("RGB")
    return image.convert("RGB")


def resize_center_crop(image: Image.Image, size: int) -> Image.Image:
    """Scale the shorter side to `size`, then cut the central size x size square."""
    width, height = image.size
    scale = size / min(width, height)
    new_w, new_h = max(size, round(width * scale)), max(size, round(height * scale))
    image = image.resize((new_w, new_h), Image.Resampling.BICUBIC, reducing_gap=3.0)
    left, top = (new_w - size) // 2, (new_h - size) // 2
    return image.crop((left, top, left + size, top + size))


def pil_to_tensor(image: Image.Image) -> torch.Tensor:
    """(3, H, W) float tensor in [0, 1]."""
    array = np.asarray(image.convert("RGB"), dtype=np.float32) / 255.0
    return torch.from_numpy(array.copy()).permute(2, 0, 1)


def tensor_to_pil(tensor: torch.Tensor) -> Image.Image:
    """A (3, H, W) tensor in [0, 1] as an RGB image."""
    array = (tensor.detach().float().clamp(0, 1).permute(1, 2, 0).cpu().numpy() * 255.0 + 0.5).astype(np.uint8)
    return Image.fromarray(array, "RGB")


def make_grid(rows: list[torch.Tensor], pad: int = 2) -> Image.Image:
    """Tile rows of (N, 3, H, W) image batches (all the same size) on a white background."""
    n_cols = max(len(r) for r in rows)
    h, w = rows[0].shape[-2:]
    grid = torch.ones(3, len(rows) * (h + pad) + pad, n_cols * (w + pad) + pad)
    for i, row in enumerate(rows):
        for j, image in enumerate(row):
            top, left = pad + i * (h + pad), pad + j * (w + pad)
            grid[:, top : top + h, left : left + w] = image
    return tensor_to_pil(grid)


def save_image(image: Image.Image, path: str | Path) -> None:
    """Write atomically (temporary file + rename), so a crash never leaves a half-written image."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fmt = Image.registered_extensions().get(path.suffix.lower())
    if fmt is None:
        raise WaestyleError(f"{path}: unknown image extension {path.suffix!r}; use .png, .jpg or .webp")
    buffer = io.BytesIO()
    image.save(buffer, format=fmt)
    atomic_write_bytes(path, buffer.getvalue())
