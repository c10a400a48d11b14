"""Packed training data: images decoded and resized once into one uint8 array on disk.

At 400k images, decoding JPEGs every epoch bounds training speed; a pack is read with a memory
map instead: `images.u8` holds N x S x S x 3 bytes, `pack.json` says N, S and where they came from.
`waestyle data pack DIR --out PACK --image-size S` writes one; `--data PACK` trains from it, alone
or mixed with folders.
"""

import json
import logging
import os
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from torch.utils.data import DataLoader, Dataset
from tqdm import tqdm

from waestyle.core.errors import WaestyleError
from waestyle.core.files import atomic_write_bytes
from waestyle.data.images import load_image
from waestyle.data.sources import find_sources, prepare

PACK_FILE = "pack.json"
DATA_FILE = "images.u8"
PACK_FORMAT = "waestyle-pack"
log = logging.getLogger(__name__)


def is_pack(folder: Path) -> bool:
    return (Path(folder) / PACK_FILE).is_file()


class _Decoded(Dataset):
    """Source images as prepared uint8 arrays (H, W, 3); an unreadable file gives an empty array."""

    def __init__(self, paths: Sequence[Path], kinds: Sequence[str], size: int, max_pixels: int):
        self.paths, self.kinds, self.size, self.max_pixels = list(paths), list(kinds), size, max_pixels

    def __len__(self) -> int:
        return len(self.paths)

    def __getitem__(self, index: int) -> torch.Tensor:

        try:
            image = prepare(load_image(self.paths[index], self.max_pixels), self.kinds[index], self.size)
        except WaestyleError as err:
            log.warning("skipping %s", err)
            return torch.empty(0, dtype=torch.uint8)
        return torch.from_numpy(np.asarray(image, dtype=np.uint8).copy())


def write_pack(
    specs: Sequence[str], out: Path, image_size: int, *, workers: int = 2, max_pixels: int, progress: bool = True
) -> dict:
    """Decode, prepare (per data kind) and store every image below `specs` in a new pack at `out`."""

    if image_size < 8 or image_size > 1024:
        raise WaestyleError("--image-size must be between 8 and 1024")
    if is_pack(out) or (out.exists() and any(out.iterdir())):
        raise WaestyleError(f"{out} is not empty; choose a new folder for the pack")
    sources = find_sources(specs)
    out.mkdir(parents=True, exist_ok=True)
    partial = out / f".{DATA_FILE}.tmp"
    array = np.lib.format.open_memmap(
        partial, mode="w+", dtype=np.uint8, shape=(len(sources), image_size, image_size, 3)
    )
    decoded = _Decoded([p for p, _ in sources], [k for _, k in sources], image_size, max_pixels)
    loader = DataLoader(decoded, batch_size=None, num_workers=workers)
    count = 0
    for image in tqdm(loader, total=len(sources), desc="pack", unit="image", disable=not progress):
        if image.numel():
            array[count] = image.numpy()
            count += 1
    array.flush()
    del array
    if count == 0:
        partial.unlink()
        raise WaestyleError("none of the images could be read")
    os.replace(partial, out / DATA_FILE)
    meta = {
        "format": PACK_FORMAT,
        "version": 1,
        "count": count,
        "image_size": image_size,
        "skipped": len(sources) - count,
        "sources": [str(s) for s in specs],
    }
    atomic_write_bytes(out / PACK_FILE, (json.dumps(meta, indent=1) + "\n").encode())  # last: marks it complete
    return meta


class PackedDataset(Dataset):
    """A pack's images as (3, S, S) tensors in [0, 1], resized when the pack's size is not S."""

    def __init__(self, folder: Path, image_size: int):
        folder = Path(folder)
        try:
            meta = json.loads((folder / PACK_FILE).read_text())
        except (OSError, json.JSONDecodeError) as err:
            raise WaestyleError(f"{folder}: unreadable {PACK_FILE} ({err})") from err
        if meta.get("format") != PACK_FORMAT or meta.get("version") != 1:
            raise WaestyleError(f"{folder}: not a waestyle pack of version 1")
        self.path, self.count, self.stored = folder / DATA_FILE, int(meta["count"]), int(meta["image_size"])
        self.image_size = image_size
        self._array = None  # opened lazily, so each DataLoader worker maps the file itself
        self._reported = False
        expected = self.count * self.stored * self.stored * 3
        if not self.path.is_file() or self.path.stat().st_size < expected:
            raise WaestyleError(f"{folder}: {DATA_FILE} is missing or shorter than {pack_summary(meta)}")

    def __len__(self) -> int:
        return self.count

    def __getitem__(self, index: int) -> torch.Tensor:
        if self._array is None:
            self._array = np.load(self.path, mmap_mode="r")
        index = self._readable(index)
        image = torch.from_numpy(np.array(self._array[index])).permute(2, 0, 1).float() / 255.0
        if self.stored != self.image_size:
            image = F.interpolate(image[None], size=(self.image_size, self.image_size), mode="bicubic", antialias=True)[
                0
            ].clamp(0, 1)
        return image

    def _readable(self, index: int) -> int:
        """`index`, or, if the file has shrunk below it since training began (reading it would kill the process
        with SIGBUS), a readable one in its place, reported once. A deleted file stays readable: the open
        mapping keeps its data."""
        try:
            size = self.path.stat().st_size
        except OSError:
            return index
        item = self.stored * self.stored * 3
        readable = max(0, min(self.count, (size - self._array.offset) // item))
        if index < readable:
            return index
        if readable == 0:
            raise WaestyleError(f"{self.path}: the pack was truncated to no images while training")
        if not self._reported:
            self._reported = True
            log.warning("%s shrank to %d of %d images while training; skipping the rest", self.path, readable,
                        self.count)  # fmt: skip
        return index % readable


def pack_summary(meta: dict) -> str:
    return f"{meta['count']} images of {meta['image_size']}x{meta['image_size']}"
