"""Training data: image folders, their preprocessing, and a seeded batch order that survives resume.

A `--data` folder may name its kind, `KIND:DIR`, which picks the preprocessing the research used:
- `celeba:` an `img_align_celeba` folder: the central 140x140 of each 178x218 aligned face (scaled to
  other sizes alike), as the WAE paper did, then resized;
- `anime:` anime-face crops: resized whole (they are near-square faces already);
- `imagenet:` (or no prefix) any tree of photos: shorter side resized, centre crop.
"""

import logging
from collections.abc import Iterator, Sequence
from functools import lru_cache
from pathlib import Path

import torch
from PIL import Image
from torch.utils.data import ConcatDataset, Dataset, Sampler

from waestyle.distributed import SINGLE, Distributed
from waestyle.errors import WaestyleError
from waestyle.images import (
    DEFAULT_MAX_PIXELS,
    IMAGE_EXTENSIONS,
    load_image,
    pil_to_tensor,
    resize_center_crop,
)
from waestyle.packs import PackedDataset, is_pack

log = logging.getLogger(__name__)


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


def build_dataset(specs: Sequence[str | Path], image_size: int, max_pixels: int = DEFAULT_MAX_PIXELS) -> Dataset:
    """The training set of `--data` specs: image folders (decoded on the fly) and packs, in order."""
    parts: list[Dataset] = []
    folders: list[str | Path] = []  # consecutive folders share one dataset, as one list of files
    for spec in [*specs, None]:
        folder = None if spec is None else parse_data_spec(spec)[1]
        if spec is not None and not is_pack(folder):
            folders.append(spec)
            continue
        if folders:
            sources = find_sources(folders)
            parts.append(ImageFolderDataset([p for p, _ in sources], image_size, max_pixels, [k for _, k in sources]))
            folders = []
        if spec is not None:
            parts.append(PackedDataset(folder, image_size))
    return parts[0] if len(parts) == 1 else ConcatDataset(parts)


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


class ImageFolderDataset(Dataset):
    """Images resized and centre-cropped to a square; an unreadable file is replaced by the next one.

    Skipping rather than stopping matters at scale: one broken JPEG among 400k should not end a run.
    """

    def __init__(
        self,
        paths: Sequence[Path],
        image_size: int,
        max_pixels: int = DEFAULT_MAX_PIXELS,
        kinds: Sequence[str] | None = None,
    ):
        if not paths:
            raise WaestyleError("no training images")
        self.paths = list(paths)
        self.kinds = list(kinds) if kinds is not None else ["folder"] * len(self.paths)
        self.image_size = image_size
        self.max_pixels = max_pixels
        self.bad: set[int] = set()

    def __len__(self) -> int:
        return len(self.paths)

    def __getitem__(self, index: int) -> torch.Tensor:
        for offset in range(len(self.paths)):
            candidate = (index + offset) % len(self.paths)
            if candidate in self.bad:
                continue
            try:
                image = load_image(self.paths[candidate], self.max_pixels)
            except WaestyleError as err:
                self.bad.add(candidate)
                log.warning("skipping %s", err)
                continue
            return pil_to_tensor(prepare(image, self.kinds[candidate], self.image_size))
        raise WaestyleError("none of the training images could be read")


@lru_cache(maxsize=4)
def _epoch_order(n_items: int, seed: int, epoch: int) -> torch.Tensor:
    return torch.randperm(n_items, generator=torch.Generator().manual_seed(seed * 100_003 + epoch))


def batch_indices(step: int, batch_size: int, n_items: int, seed: int) -> list[int]:
    """The dataset indices of batch `step`: a fresh seeded permutation per epoch, batches across epochs.

    A pure function of its arguments, so a resumed run sees exactly the batches it would have seen.
    """
    indices, position = [], step * batch_size
    while len(indices) < batch_size:
        epoch, offset = divmod(position, n_items)
        order = _epoch_order(n_items, seed, epoch)
        take = min(batch_size - len(indices), n_items - offset)
        indices += order[offset : offset + take].tolist()
        position += take
    return indices


class StepBatchSampler(Sampler[list[int]]):
    """Yields `batch_indices` for steps start..stop-1, for a DataLoader with workers.

    The distributed sampler too: under torchrun each process takes its own shard of every global
    batch (`place`), so the processes see different images and together exactly one process's batch.
    """

    def __init__(self, n_items: int, batch_size: int, seed: int, start: int, stop: int, place: Distributed = SINGLE):
        self.n_items, self.batch_size, self.seed = n_items, batch_size, seed
        self.start, self.stop, self.place = start, stop, place

    def __iter__(self) -> Iterator[list[int]]:
        for step in range(self.start, self.stop):
            yield self.place.shard(batch_indices(step, self.batch_size, self.n_items, self.seed))

    def __len__(self) -> int:
        return max(0, self.stop - self.start)
