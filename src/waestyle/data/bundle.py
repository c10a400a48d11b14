"""A training set cut down to a byte budget, for a machine it must be uploaded to (`waestyle data bundle`).

A remote GPU run receives the repository and its data together under a size limit. The bundle keeps the
prepared set's layout (photos/, styles/, SOURCES.md, files.csv) and takes crops round-robin over their source
pictures (every picture's first crop, then every second crop, ...), re-encoded as JPEG, until the budget is
spent (contents and styles each in proportion to their share of the set): the set gets smaller by losing
repeats of a picture before it loses any picture.
"""

import csv
import io
import shutil
from collections import defaultdict
from pathlib import Path

from PIL import Image
from tqdm import tqdm

from waestyle.core.errors import WaestyleError
from waestyle.core.files import atomic_write_bytes

FILES = "files.csv"


def _round_robin(rows: list[dict]) -> list[dict]:
    """Rows ordered: the first crop of every source, then the second of every source, and so on."""
    by_source: dict[str, list[dict]] = defaultdict(list)
    for row in rows:
        by_source[row["source"] + row.get("painterly filter", "")].append(row)
    ordered, depth = [], 0
    while len(ordered) < len(rows):
        ordered += [crops[depth] for crops in by_source.values() if depth < len(crops)]
        depth += 1
    return ordered


def _encode(path: Path, quality: int) -> bytes:
    with Image.open(path) as image:
        image = image.convert("RGB")
        buffer = io.BytesIO()
        image.save(buffer, format="JPEG", quality=quality)
        return buffer.getvalue()


def write_bundle(source: Path, out: Path, max_mb: float, quality: int = 80, progress: bool = True) -> dict:
    """Copy crops of the prepared set at `source` into `out` until `max_mb` megabytes; returns counts."""
    listing = source / FILES
    if not listing.is_file():
        raise WaestyleError(f"{source} has no {FILES}: make it with `waestyle data prepare`")
    if out.exists() and any(out.iterdir()):
        raise WaestyleError(f"{out} is not empty; choose a new folder for the bundle")
    if not 1 <= quality <= 95 or max_mb <= 0:
        raise WaestyleError("--quality must be from 1 to 95 and --max-mb positive")
    with listing.open(newline="") as handle:
        rows = list(csv.DictReader(handle))
    for name in ("photos", "styles"):
        (out / name).mkdir(parents=True, exist_ok=True)
    used, kept = 0, []
    with tqdm(total=len(rows), desc="bundle", unit="image", disable=not progress) as bar:
        for role in ("photos", "styles"):
            # Each role gets the budget in proportion to its share of the set, so neither crowds out the other.
            mine = [row for row in rows if row["file"].startswith(role)]
            budget, spent = max_mb * 1e6 * len(mine) / max(1, len(rows)), 0
            for row in _round_robin(mine):
                bar.update()
                data = _encode(source / row["file"], quality)
                if spent + len(data) > budget:
                    continue  # a smaller crop further on may still fit
                name = str(Path(row["file"]).with_suffix(".jpg"))
                atomic_write_bytes(out / name, data)
                spent += len(data)
                kept.append({**row, "file": name})
            used += spent
    if (source / "SOURCES.md").is_file():
        shutil.copyfile(source / "SOURCES.md", out / "SOURCES.md")
    with (out / FILES).open("w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=list(rows[0]) if rows else ["file", "source"])
        writer.writeheader()
        writer.writerows(kept)
    photos = sum(1 for row in kept if row["file"].startswith("photos"))
    return {"photos": photos, "styles": len(kept) - photos, "of": len(rows), "megabytes": used / 1e6}
