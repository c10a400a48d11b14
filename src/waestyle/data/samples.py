"""Images made on the spot, for tests, benchmarks and experiments: no download, no bundled data.

- `procedural_style(seed)`: a strongly textured, colourful image (stripes, mosaic, brush strokes,
  dots or rings in a random palette): what a style image has and a photo lacks, in a known family.
- `photo_crops(count, seed)`: crops of scikit-image's sample photographs (CC0 / public domain),
  when scikit-image is installed (it is in the `test` extra).
"""

import math
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw, ImageFilter

STYLE_FAMILIES = ("stripes", "mosaic", "strokes", "dots", "rings")
# Colour photographs shipped inside scikit-image's package (no fetching).
PHOTO_FILES = (
    "astronaut.png",
    "chelsea.png",
    "coffee.png",
    "rocket.jpg",
    "motorcycle_left.png",
    "retina.jpg",
    "hubble_deep_field.jpg",
    "ihc.png",
)


def _palette(rng: np.random.Generator, count: int) -> list[tuple[int, int, int]]:
    """Saturated colours around a random hue, as a painter's limited palette."""
    base = rng.uniform(0, 1)
    colours = []
    for _ in range(count):
        hue = (base + rng.normal(0, 0.15)) % 1.0
        rgb = Image.new("HSV", (1, 1), (int(hue * 255), int(rng.uniform(150, 255)), int(rng.uniform(80, 255))))
        colours.append(rgb.convert("RGB").getpixel((0, 0)))
    return colours


def procedural_style(seed: int, size: int = 256, family: str | None = None) -> Image.Image:
    """A textured style image; the family is chosen by the seed unless given."""
    rng = np.random.default_rng(seed)
    family = family or STYLE_FAMILIES[seed % len(STYLE_FAMILIES)]
    colours = _palette(rng, 4)
    if family == "stripes":
        y, x = np.mgrid[0:size, 0:size] / size
        angle, freq = rng.uniform(0, math.pi), rng.uniform(6, 20)
        warp = np.sin(y * rng.uniform(3, 9) * math.pi) * rng.uniform(0.02, 0.08)
        phase = ((x * math.cos(angle) + y * math.sin(angle) + warp) * freq) % 1.0
        index = (phase * len(colours)).astype(int)
        return Image.fromarray(np.asarray(colours, dtype=np.uint8)[index])
    image = Image.new("RGB", (size, size), colours[0])
    draw = ImageDraw.Draw(image)
    if family == "mosaic":
        points = rng.uniform(0, size, (int(rng.integers(20, 60)), 2))
        y, x = np.mgrid[0:size, 0:size]
        nearest = ((x[..., None] - points[:, 0]) ** 2 + (y[..., None] - points[:, 1]) ** 2).argmin(-1)
        cells = np.asarray([colours[i % 4] for i in range(len(points))], dtype=np.uint8)[nearest]
        edges = np.zeros((size, size), bool)
        edges[:-1] |= nearest[:-1] != nearest[1:]
        edges[:, :-1] |= nearest[:, :-1] != nearest[:, 1:]
        cells[edges] = 20
        return Image.fromarray(cells).filter(ImageFilter.MaxFilter(3) if rng.uniform() < 0.5 else ImageFilter.SMOOTH)
    if family == "strokes":
        angle = rng.uniform(0, math.pi)
        for _ in range(int(rng.integers(300, 600))):
            x, y = rng.uniform(0, size, 2)
            a = angle + rng.normal(0, 0.4)
            length = rng.uniform(size * 0.04, size * 0.15)
            dx, dy = math.cos(a) * length, math.sin(a) * length
            draw.line([(x, y), (x + dx, y + dy)], fill=colours[int(rng.integers(0, 4))], width=int(rng.integers(2, 7)))
        return image
    if family == "dots":
        for _ in range(int(rng.integers(400, 900))):
            x, y = rng.uniform(0, size, 2)
            r = rng.uniform(size * 0.008, size * 0.03)
            draw.ellipse([x - r, y - r, x + r, y + r], fill=colours[int(rng.integers(0, 4))])
        return image
    if family == "rings":
        cx, cy = rng.uniform(0, size, 2)
        y, x = np.mgrid[0:size, 0:size]
        radius = np.hypot(x - cx, y - cy) + 6 * np.sin(np.arctan2(y - cy, x - cx) * int(rng.integers(3, 9)))
        index = ((radius / rng.uniform(6, 18)).astype(int)) % 4
        return Image.fromarray(np.asarray(colours, dtype=np.uint8)[index])
    raise ValueError(f"unknown style family {family!r}; choose one of {STYLE_FAMILIES}")


def photo_crops(count: int, seed: int = 0, min_side: int = 64, max_side: int = 200) -> list[Image.Image]:
    """Crops of scikit-image's sample photographs at assorted sizes and aspect ratios."""
    import skimage.data

    folder = Path(skimage.data.__file__).parent
    sources = [np.asarray(Image.open(folder / name).convert("RGB")) for name in PHOTO_FILES]
    rng = np.random.default_rng(seed)
    crops = []
    for i in range(count):
        source = sources[i % len(sources)]
        h = int(rng.integers(min_side, min(max_side, source.shape[0]) + 1))
        w = int(rng.integers(min_side, min(max_side, source.shape[1]) + 1))
        y, x = int(rng.integers(0, source.shape[0] - h + 1)), int(rng.integers(0, source.shape[1] - w + 1))
        crops.append(Image.fromarray(np.ascontiguousarray(source[y : y + h, x : x + w])))
    return crops


def write_images(images: list[Image.Image], folder: str | Path, prefix: str, suffix: str = ".jpg") -> list[Path]:
    """Save images as prefix000.jpg, prefix001.jpg, ... and return their paths."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    paths = []
    for i, image in enumerate(images):
        path = folder / f"{prefix}{i:03d}{suffix}"
        image.save(path, quality=95) if suffix in (".jpg", ".jpeg") else image.save(path)
        paths.append(path)
    return paths
