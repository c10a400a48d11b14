"""The training-set recipe (`waestyle data prepare`): thousands of crops from pictures that install here.

Contents are photographs and photographic cut-outs; styles are paintings, drawings, patterns and papers,
plus painterly renderings of the contents drawn by waestyle.data.painterly and procedural styles. Every source
is a Debian or PyPI package whose copyright file allows the use (licences in SOURCES), found at its
install path; a missing package is skipped and listed in SOURCES.md. The demo images stay held out, and so
do Debian's desktop-wallpaper packages, except the lomiri-wallpapers-16.04 files the demo recipe names.

Scale. Crops are `size` pixels (128 by default) from pictures first resized so that their short side is
1-3x (contents) or 1-2x (styles) the crop: a content crop covers a region of a photo as seen at about
512 px, and a style crop holds its texture at the scale the style encoder reads a style image (256 px).
"""

import csv
import os
from dataclasses import dataclass
from multiprocessing import Pool
from pathlib import Path

import numpy as np
from PIL import Image
from tqdm import tqdm

from waestyle.core.errors import WaestyleError
from waestyle.data.demo_recipe import BACKGROUNDS, DEBIAN_PHOTOS, PIP_PHOTOS, package_file
from waestyle.data.painterly import FILTERS
from waestyle.data.samples import procedural_style

SHARE = Path("/usr/share")
MIN_SIDE = 64  # icons and sprites below this are skipped
IMAGE_PATTERNS = ("*.png", "*.jpg", "*.jpeg", "*.webp")


@dataclass(frozen=True)
class Source:
    """A family of pictures: where they install, their role, their licence, and crops per picture."""

    name: str
    role: str  # "content" or "style"
    root: str  # below SHARE, unless absolute
    licence: str
    crops: int
    patterns: tuple[str, ...] = IMAGE_PATTERNS


SOURCES = (
    Source("tuxpaint-stamps-default: objects, animals, food, people (cut-outs)", "content", "tuxpaint/stamps",
           "GPL-2 (Debian copyright file)", 3),
    Source("stellarium-data: landscape panoramas", "content", "stellarium/landscapes", "GPL-2+", 24),
    Source("wesnoth-1.16-data: painted portraits", "style", "games/wesnoth/1.16/data", "GPL-2+", 3,
           ("**/portraits/**/*.webp", "**/portraits/**/*.png")),
    Source("wesnoth-1.16-data: painted story landscapes", "style", "games/wesnoth/1.16/data", "GPL-2+", 12,
           ("**/story/*.webp", "**/story/*.jpg", "**/story/*.png")),
    Source("stellarium-data: constellation artworks of many cultures", "style", "stellarium/skycultures",
           "GPL-2+", 2),
    Source("krita-data: patterns", "style", "krita/patterns", "GPL-3+ (Debian copyright file, Files: *)", 6),
    Source("gimp-data-extras: patterns", "style", "gimp/2.0/patterns", "GPL-2+", 3, ("*.pat",)),
    Source("mypaint-data-extras: papers and backgrounds", "style", "mypaint/backgrounds", "CC0-1.0", 12),
)  # fmt: skip
PROCEDURAL_SEED = 100_000  # the demo's procedural styles use seeds below 1000, the demo recipe's below this
PAINTERLY_PER_PHOTO = 1  # each content picture is drawn by one filter, chosen by the seed


@dataclass(frozen=True)
class Job:
    """One picture to crop (or to render painterly first) into `count` training images."""

    path: str
    role: str
    prefix: str
    count: int
    seed: int
    filter: str = ""


def read_gimp_pattern(path: Path) -> Image.Image:
    """A GIMP .pat pattern: a big-endian header (size, version, width, height, depth, 'GPAT', name), raw pixels."""
    data = path.read_bytes()
    header, _version, width, height, depth = (int.from_bytes(data[i : i + 4], "big") for i in range(0, 20, 4))
    if data[20:24] != b"GPAT" or depth not in (1, 2, 3, 4):
        raise WaestyleError(f"{path}: not a GIMP pattern")
    mode = {1: "L", 2: "LA", 3: "RGB", 4: "RGBA"}[depth]
    return Image.frombytes(mode, (width, height), data[header : header + width * height * depth])


def open_picture(path: Path, rng: np.random.Generator) -> Image.Image:
    """RGB pixels of any source picture; transparent parts go on a random light paper-like ground."""
    image = read_gimp_pattern(path) if path.suffix == ".pat" else Image.open(path)
    image.load()
    if image.mode in ("RGBA", "LA", "PA") or (image.mode == "P" and "transparency" in image.info):
        rgba = image.convert("RGBA")
        ground = Image.new("RGBA", rgba.size, tuple(int(v) for v in rng.uniform(150, 255, 3)) + (255,))
        return Image.alpha_composite(ground, rgba).convert("RGB")
    return image.convert("RGB")


def random_crops(image: Image.Image, count: int, size: int, scale: tuple[float, float], rng) -> list[Image.Image]:
    """`count` size x size crops after resizing the short side to `scale` x size; flat crops are retried."""
    crops = []
    for _ in range(count * 4):
        if len(crops) == count:
            break
        short = size * rng.uniform(*scale)
        factor = short / min(image.size)
        width, height = max(size, round(image.size[0] * factor)), max(size, round(image.size[1] * factor))
        scaled = image.resize((width, height), Image.Resampling.LANCZOS, reducing_gap=3.0)
        x, y = int(rng.integers(0, width - size + 1)), int(rng.integers(0, height - size + 1))
        crop = scaled.crop((x, y, x + size, y + size))
        if np.asarray(crop, np.float32).std() > 6.0:  # skip empty sky, black night, bare paper margins
            crops.append(crop)
    return crops


def run_job(job: Job, out: Path, size: int) -> list[str]:
    """Write the job's crops; returns their file names (none if the picture cannot be read)."""
    rng = np.random.default_rng(job.seed)
    try:
        image = open_picture(Path(job.path), rng)
    except (OSError, ValueError, WaestyleError):
        return []
    if min(image.size) < MIN_SIDE:
        return []
    if job.filter:
        image.thumbnail((384, 384), Image.Resampling.LANCZOS)
        image = FILTERS[job.filter](image, rng)
    scale = (1.0, 3.0) if job.role == "content" else (1.0, 2.0)
    names = []
    folder = "photos" if job.role == "content" else "styles"
    for j, crop in enumerate(random_crops(image, job.count, size, scale, rng)):
        name = f"{folder}/{job.prefix}-{j}.jpg"
        crop.save(out / name, quality=92)
        names.append(name)
    return names


def _find(source: Source, share: Path) -> list[Path]:
    root = share / source.root
    if not root.is_dir():
        return []
    found = {p for pattern in source.patterns for p in root.glob(pattern if "/" in pattern else f"**/{pattern}")}
    return sorted(p for p in found if p.is_file())


def pip_photos(backgrounds: Path) -> list[tuple[Path, str]]:
    """The photographs the demo recipe trains on (none is a demo image), with their licences."""
    photos = [(package_file(p, n), f"{p} sample data {n}: {lic}") for p, n, lic in PIP_PHOTOS]
    photos += [(backgrounds / n, f"Debian lomiri-wallpapers-16.04 {n}: {lic}") for n, lic in DEBIAN_PHOTOS]
    return [(path, what) for path, what in photos if path is not None and path.is_file()]


def plan_jobs(seed: int, share: Path, backgrounds: Path, procedural: int) -> tuple[list[Job], list[str]]:
    """Every job of the recipe, and the SOURCES.md rows saying what each source gave (or that it is missing)."""
    jobs, rows, contents = [], [], []

    def add(path: Path, role: str, prefix: str, count: int, painterly: str = "") -> None:
        jobs.append(Job(str(path), role, prefix, count, seed * 1_000_003 + len(jobs), painterly))

    for index, source in enumerate(SOURCES):
        paths = _find(source, share)
        where = share / source.root if paths else "not installed"
        rows.append(f"| {source.name} | {source.role} | {where} | {len(paths)} | {source.licence} |")
        for i, path in enumerate(paths):
            add(path, source.role, f"s{index:02d}-{i:04d}", source.crops)
        contents += paths if source.role == "content" else []
    for i, (path, what) in enumerate(pip_photos(backgrounds)):
        name, licence = what.split(": ", 1)
        rows.append(f"| {name} | content | {path} | 1 | {licence} |")
        add(path, "content", f"p{i:02d}", 48)
        contents.append(path)
    filters = sorted(FILTERS)
    for i, path in enumerate(contents):
        for k in range(PAINTERLY_PER_PHOTO):
            name = filters[(i * PAINTERLY_PER_PHOTO + k + seed) % len(filters)]
            add(path, "style", f"r-{name}-{i:04d}-{k}", 1 if path.parent.name == "stamps" else 2, name)
    renderings = len(contents) * PAINTERLY_PER_PHOTO
    rows.append(f"| painterly renderings of the contents ({', '.join(filters)}) | style | waestyle.data.painterly | "
                f"{renderings} | the photograph's; changes by waestyle (MIT) |")  # fmt: skip
    rows.append(
        f"| procedural styles (seeds from {PROCEDURAL_SEED}) | style | waestyle.data.samples | {procedural} | MIT |"
    )
    return jobs, rows


def prepare_training_data(
    out: Path,
    *,
    size: int = 128,
    seed: int = 0,
    procedural: int = 300,
    share: Path = SHARE,
    backgrounds: Path = BACKGROUNDS,
    workers: int | None = None,
) -> dict:
    """Write OUT/photos, OUT/styles, OUT/SOURCES.md and OUT/files.csv (each image's source); return counts."""
    if any(out.joinpath(sub).exists() for sub in ("photos", "styles")):
        raise WaestyleError(f"{out} already holds photos/ or styles/; choose an empty folder")
    jobs, lines = plan_jobs(seed, Path(share), Path(backgrounds), procedural)
    if not any(job.role == "content" for job in jobs):
        raise WaestyleError("no content pictures found: apt-get install tuxpaint-stamps-default stellarium-data, "
                            "or pip install scikit-image")  # fmt: skip
    (out / "photos").mkdir(parents=True)
    (out / "styles").mkdir(parents=True)
    rows = []
    workers = workers if workers is not None else min(4, os.cpu_count() or 1)
    with tqdm(total=len(jobs) + procedural, desc="prepare", unit="picture") as bar:
        with Pool(workers) if workers > 1 else _InProcess() as pool:
            for job, names in zip(jobs, pool.imap(_run_job, [(j, out, size) for j in jobs], chunksize=8), strict=True):
                rows += [(name, job.path, job.filter) for name in names]
                bar.update()
        for j in range(procedural):
            name = f"styles/procedural-{j:04d}.png"
            procedural_style(PROCEDURAL_SEED + seed * procedural + j, size=size).save(out / name)
            rows.append((name, "waestyle.data.samples.procedural_style", ""))
            bar.update()
    with (out / "files.csv").open("w", newline="") as handle:
        csv.writer(handle).writerows([("file", "source", "painterly filter"), *rows])
    counts = {role: sum(1 for name, *_ in rows if name.startswith(role)) for role in ("photos", "styles")}
    counts["content_pictures"] = len({src for name, src, _ in rows if name.startswith("photos")})
    drawn = {(src, f) for name, src, f in rows if name.startswith("styles") and "procedural" not in name}
    counts["style_sources"] = len(drawn) + procedural
    _write_sources(out, lines, counts, size)
    return counts


def _write_sources(out: Path, lines: list[str], counts: dict, size: int) -> None:
    text = [
        "# Training set written by `waestyle data prepare`",
        "",
        f"{counts['photos']} content crops from {counts['content_pictures']} pictures, {counts['styles']} style "
        f"crops from {counts['style_sources']} distinct sources (a picture, a rendering of one, or a procedural "
        f"seed); {size}-px squares.",
        "Each file's source is in files.csv. Licences are those of the packages' copyright files.",
        "",
        "| source | role | where | pictures | licence |",
        "| --- | --- | --- | --- | --- |",
        *lines,
    ]
    (out / "SOURCES.md").write_text("\n".join(text) + "\n")


def _run_job(args: tuple[Job, Path, int]) -> list[str]:
    return run_job(*args)


class _InProcess:
    """Pool's imap without processes (workers=1): simpler to debug, and what tests use."""

    def __enter__(self):
        return self

    def __exit__(self, *exc) -> None:
        return None

    def imap(self, fn, items, chunksize: int = 1):
        return map(fn, items)
