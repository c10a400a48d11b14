"""Painterly renderings of photographs, drawn here: style images with a photo's layout and a medium's marks.

Each filter maps an RGB PIL image to an RGB PIL image of the same size and is seeded, so a training
set rebuilds identically. They stand in for the paintings no data set here offers: pencil (dodge blend),
oil (mode filter + posterise), mosaic (SLIC cells, scikit-image), halftone (rotated dot screens),
cartoon (posterised flat colours with dark edges) and watercolour (soft washes, darkened rims).
"""

import math
from collections.abc import Callable

import numpy as np
from PIL import Image, ImageChops, ImageEnhance, ImageFilter, ImageOps


def pencil(image: Image.Image, rng: np.random.Generator) -> Image.Image:
    """Grey pencil sketch: the classic colour-dodge of the grey image by its blurred negative, on tinted paper."""
    grey = ImageOps.grayscale(image)
    blurred = ImageOps.invert(grey).filter(ImageFilter.GaussianBlur(float(rng.uniform(2, 6))))
    g, b = np.asarray(grey, np.float32), np.asarray(blurred, np.float32)
    sketch = np.clip(g * 255.0 / np.maximum(255.0 - b, 1.0), 0, 255)
    paper = np.array([rng.uniform(225, 255), rng.uniform(215, 250), rng.uniform(190, 240)], np.float32)
    out = sketch[..., None] / 255.0 * paper
    return Image.fromarray(out.astype(np.uint8))


def oil(image: Image.Image, rng: np.random.Generator) -> Image.Image:
    """Blobs of flat paint: the most frequent colour per neighbourhood, fewer levels, stronger colour."""
    size = int(rng.choice([5, 7, 9]))
    painted = ImageOps.posterize(image.filter(ImageFilter.ModeFilter(size)), int(rng.integers(3, 6)))
    return ImageEnhance.Color(painted).enhance(float(rng.uniform(1.2, 1.8)))


def mosaic(image: Image.Image, rng: np.random.Generator) -> Image.Image:
    """Tiles of one colour each (SLIC superpixels) with dark grout, like stained glass."""
    from skimage.segmentation import find_boundaries, slic

    pixels = np.asarray(image, np.float32) / 255.0
    segments = slic(pixels, n_segments=int(rng.integers(80, 400)), compactness=20, start_label=0)
    sums = np.stack([np.bincount(segments.ravel(), pixels[..., c].ravel()) for c in range(3)], 1)
    tiles = sums / np.bincount(segments.ravel())[:, None]
    out = tiles[segments]
    out[find_boundaries(segments, mode="thick")] = rng.uniform(0.0, 0.2)
    return Image.fromarray((np.clip(out, 0, 1) * 255).astype(np.uint8))


def halftone(image: Image.Image, rng: np.random.Generator) -> Image.Image:
    """Print dots: one rotated dot screen per CMY ink, dot area following the ink's density."""
    cell = float(rng.uniform(4, 9))
    h, w = image.size[1], image.size[0]
    y, x = np.mgrid[0:h, 0:w].astype(np.float32)
    ink = 1.0 - np.asarray(image, np.float32) / 255.0
    out = np.ones((h, w, 3), np.float32)
    for channel, degrees in enumerate((15.0, 75.0, 0.0)):
        angle = math.radians(degrees + rng.uniform(-5, 5))
        u = (x * math.cos(angle) + y * math.sin(angle)) / cell
        v = (-x * math.sin(angle) + y * math.cos(angle)) / cell
        distance = np.hypot(u - np.round(u), v - np.round(v))
        out[..., channel] -= distance < np.sqrt(ink[..., channel] / math.pi)
    return Image.fromarray((np.clip(out, 0, 1) * 255).astype(np.uint8))


def cartoon(image: Image.Image, rng: np.random.Generator) -> Image.Image:
    """Flat posterised colours under dark outlines."""
    smooth = image.filter(ImageFilter.MedianFilter(5)).filter(ImageFilter.SMOOTH_MORE)
    flat = ImageOps.posterize(smooth, int(rng.integers(2, 4)))
    edges = ImageOps.grayscale(image).filter(ImageFilter.FIND_EDGES).point(lambda v: 0 if v > 40 else 255)
    return ImageChops.multiply(flat, edges.filter(ImageFilter.MinFilter(3)).convert("RGB"))


def watercolour(image: Image.Image, rng: np.random.Generator) -> Image.Image:
    """Soft, lighter washes of colour whose rims darken where the wash meets paper, on grainy paper."""
    wash = image.filter(ImageFilter.GaussianBlur(float(rng.uniform(1.5, 3.5)))).filter(ImageFilter.ModeFilter(5))
    wash = ImageEnhance.Brightness(ImageEnhance.Color(wash).enhance(1.3)).enhance(1.15)
    rims = ImageOps.grayscale(wash).filter(ImageFilter.FIND_EDGES).filter(ImageFilter.GaussianBlur(1))
    grain = rng.normal(0, 8, (image.size[1], image.size[0], 1))
    out = np.asarray(wash, np.float32) - 0.6 * np.asarray(rims, np.float32)[..., None] + grain
    return Image.fromarray(np.clip(out, 0, 255).astype(np.uint8))


FILTERS: dict[str, Callable[[Image.Image, np.random.Generator], Image.Image]] = {
    "pencil": pencil,
    "oil": oil,
    "mosaic": mosaic,
    "halftone": halftone,
    "cartoon": cartoon,
    "watercolour": watercolour,
}
