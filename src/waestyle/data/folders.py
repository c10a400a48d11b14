"""Training data sets: image folders and packs behind one Dataset, each image prepared once per read."""

import logging
from collections.abc import Sequence
from pathlib import Path

import torch
from torch.utils.data import ConcatDataset, Dataset

from waestyle.core.errors import WaestyleError
from waestyle.data.images import DEFAULT_MAX_PIXELS, load_image, pil_to_tensor
from waestyle.data.packs import PackedDataset, is_pack
from waestyle.data.sources import find_sources, parse_data_spec, prepare

log = logging.getLogger(__name__)


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
