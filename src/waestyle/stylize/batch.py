"""Running a Stylizer over files and folders: every pair, batched, bad files skipped, outputs safe.

Used by the CLI; the Python API is `Stylizer` itself. Outputs are written atomically, never over an
input, and never over an existing file unless `overwrite` is set.
"""

import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import torch
from tqdm import tqdm

from waestyle.core.config import DEFAULT_MAX_PIXELS
from waestyle.core.errors import WaestyleError
from waestyle.data.images import load_image, save_image
from waestyle.data.sources import find_images
from waestyle.stylize.controls import Style
from waestyle.stylize.stylizer import Stylizer


@dataclass
class BatchReport:
    """What a run wrote and what it had to skip (file, reason)."""

    written: list[Path] = field(default_factory=list)
    skipped: list[tuple[Path, str]] = field(default_factory=list)
    seconds: float = 0.0

    @property
    def seconds_per_image(self) -> float:
        return self.seconds / max(1, len(self.written))


def expand_inputs(path: str | Path) -> tuple[list[Path], bool]:
    """The image files a CLI argument names, and whether it was a folder."""
    path = Path(path)
    if path.is_dir():
        return find_images([path]), True
    if not path.exists():
        raise WaestyleError(f"{path}: no such file or folder")
    return [path], False


def check_output(target: Path, inputs: Sequence[Path], overwrite: bool) -> None:
    """Refuse to replace an input, or an existing file without `overwrite`."""
    resolved = target.resolve()
    if any(resolved == p.resolve() for p in inputs):
        raise WaestyleError(f"{target}: refusing to overwrite an input image")
    if target.exists() and not overwrite:
        raise WaestyleError(f"{target} exists; pass --overwrite to replace it")
    if target.exists() and target.is_dir():
        raise WaestyleError(f"{target} is a folder, expected an image file name")


def _chunks(items: Sequence, size: int) -> Iterator[Sequence]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


def _load_all(paths: Sequence[Path], max_pixels: int, report: BatchReport, strict: bool) -> list[tuple[Path, object]]:
    """Load images; a bad one is recorded and skipped, or with `strict` ends the run."""
    loaded = []
    for path in paths:
        try:
            loaded.append((path, load_image(path, max_pixels)))
        except WaestyleError as err:
            if strict:
                raise
            report.skipped.append((path, str(err)))
    return loaded


def style_latents(
    stylizer: Stylizer, styles: Sequence[Path], max_pixels: int, report: BatchReport, strict: bool
) -> list[tuple[Path, Style]]:
    """One style (z_s and the image as read, for refinement) per readable style image, each computed once for
    all the contents it is used with."""
    return [(path, stylizer.style(image)) for path, image in _load_all(styles, max_pixels, report, strict)]


def run_pairs(
    stylizer: Stylizer,
    contents: Sequence[Path],
    styles: Sequence[tuple[Path | None, torch.Tensor | None]],
    outputs: dict[tuple[Path, Path | None], Path],
    *,
    controls: dict | None = None,
    batch_size: int = 16,
    max_pixels: int = DEFAULT_MAX_PIXELS,
    strict: bool = False,
    progress: bool = True,
    report: BatchReport | None = None,
) -> BatchReport:
    """Decode every (content, style) pair into `outputs[(content path, style key)]`.

    `styles` holds (key, z_s) pairs: a style file and its latent, or (None, a mixed or sampled
    latent), or (None, None) to reconstruct each content with its own style. Contents are loaded
    and encoded once per batch, for all the styles; unreadable ones are skipped and reported, unless `strict`.
    `controls` are Stylizer.transfer's keyword options (strength, content_dim, keep_colors, long_side).
    """
    report = report or BatchReport()
    started = time.perf_counter()
    total = len(contents) * len(styles)
    with tqdm(total=total, disable=not progress or total <= 1, unit="img", dynamic_ncols=True) as bar:
        for chunk in _chunks(contents, batch_size):
            loaded = _load_all(chunk, max_pixels, report, strict)
            if not loaded:
                continue
            images = [image for _, image in loaded]
            z_styles = [z_style for _, z_style in styles]
            per_style = stylizer.transfer_images(images, z_styles, batch_size=batch_size, **(controls or {}))
            for (style_key, _), results in zip(styles, per_style, strict=True):
                for (content_path, _), out in zip(loaded, results, strict=True):
                    target = outputs[(content_path, style_key)]
                    save_image(out, target)
                    report.written.append(target)
                    bar.update(1)
    report.seconds = time.perf_counter() - started
    return report


def plan_outputs(
    contents: Sequence[Path],
    styles: Sequence[Path | None],
    out: Path,
    *,
    to_folder: bool,
    overwrite: bool,
) -> dict[tuple[Path, Path | None], Path]:
    """Where each pair's output goes, checked before any work is done; a style key None (reconstruction,
    or one mixed / sampled style for all) names outputs after the content alone."""
    pairs = [(c, s) for c in contents for s in styles]
    if not to_folder:
        if out.suffix.lower() not in (".png", ".jpg", ".jpeg", ".webp", ".bmp"):
            raise WaestyleError(f"{out}: give the output an image extension (.png, .jpg, .webp)")
        outputs = {pairs[0]: out}
    else:
        if out.exists() and not out.is_dir():
            raise WaestyleError(f"{out} is a file; with a folder of inputs, -o must be a folder")
        outputs = {(c, s): out / (f"{c.stem}__{s.stem}.png" if s else f"{c.stem}.png") for c, s in pairs}
        if len(set(outputs.values())) < len(outputs):
            raise WaestyleError("two inputs share a file name (stem); rename them or run them separately")
    inputs = list(contents) + [s for s in styles if s is not None]
    for target in outputs.values():
        check_output(target, inputs, overwrite)
    return outputs
