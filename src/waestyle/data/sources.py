"""Where training and evaluation images come from: folders of a kind, and each kind's preprocessing.

A `--data` folder may name its kind, `KIND:DIR`, which picks the preprocessing the research used:
- `celeba:` an `img_align_celeba` folder: the central 140x140 of each 178x218 aligned face (scaled to
  other sizes alike), as the WAE paper did, then resized;
- `anime:` anime-face crops: resized whole (they are near-square faces already);
- `imagenet:` (or no prefix) any tree of photos: shorter side resized, centre crop.
"""

from collections.abc import Sequence
from pathlib import Path

from PIL import Image

from waestyle.core.errors import WaestyleError
from waestyle.data.images import IMAGE_EXTENSIONS, resize_center_crop

DATA_KINDS = ("folder", "celeba", "anime", "imagenet")
# WAE paper, CelebA: a 140x140 centre crop of the 178-px-wide aligned images.
CELEBA_CROP = 140 / 178


def parse_data_spec(spec: str | Path) -> tuple[str, Path]:
    """`celeba:DIR` -> ("celeba", DIR); a plain `DIR` -> ("folder", DIR)."""
    text = str(spec)
    kind, _, rest = text.partition(":")
    if rest and kind in DATA_KINDS:
        return kind, Path(rest)
    return "folder", Path(text)


def prepare(image: Image.Image, kind: str, size: int) -> Image.Image:
    """The square training image of one source image, per its data kind."""
    if kind == "celeba":
        width, height = image.size
        side = min(round(width * CELEBA_CROP), height)
        left, top = (width - side) // 2, (height - side) // 2
        image = image.crop((left, top, left + side, top + side))
        return image.resize((size, size), Image.Resampling.BICUBIC, reducing_gap=3.0)
    if kind == "anime":
        return image.resize((size, size), Image.Resampling.BICUBIC, reducing_gap=3.0)
    return resize_center_crop(image, size)


def find_sources(specs: Sequence[str | Path]) -> list[tuple[Path, str]]:
    """(image path, data kind) for every image below every `[KIND:]DIR`."""
    sources = []
    for spec in specs:
        kind, folder = parse_data_spec(spec)
        sources += [(path, kind) for path in find_images([folder])]
    return sources


def find_images(folders: Sequence[str | Path]) -> list[Path]:
    """Every image file (by extension) below the folders, sorted so runs are reproducible."""
    found: list[Path] = []
    for folder in map(Path, folders):
        if not folder.is_dir():
            raise WaestyleError(f"{folder}: not a folder")
        images = sorted(p for p in folder.rglob("*") if p.is_file() and p.suffix.lower() in IMAGE_EXTENSIONS)
        if not images:
            raise WaestyleError(f"{folder}: no images ({', '.join(IMAGE_EXTENSIONS)}) found")
        found += images
    return found
