"""`waestyle demo`: every bundled content image in every bundled style, with a grid and timings.

What `make demo` runs on a fresh install: no data, no training, no download — the default model and
the demo images ship inside the package.
"""

import time
from dataclasses import dataclass
from pathlib import Path

import torch
from tqdm import tqdm

from waestyle.core.bundled import demo_contents, demo_styles
from waestyle.core.errors import WaestyleError
from waestyle.data.images import load_image, make_grid, pil_to_tensor, resize_center_crop, save_image
from waestyle.stylize.stylizer import Stylizer

GRID_CELL = 128
GRID_FILE = "grid.png"


@dataclass
class DemoResult:
    outputs: list[Path]
    grid: Path
    seconds_per_image: float  # one content image in one style: content encoding, decoding, resizing
    style_seconds: float  # encoding one style image (done once per style)


def demo_output_name(content: Path, style: Path) -> str:
    return f"{content.stem}__{style.stem}.jpg"


def run_demo(
    out: Path,
    model_dir: Path | None = None,
    *,
    device: str = "cpu",
    long_side: int | None = None,
    overwrite: bool = False,
    progress: bool = True,
    backend: str = "auto",
    compile: bool = False,
    style_head: bool = True,
) -> DemoResult:
    """Stylise each demo content with each demo style into OUT, plus OUT/grid.png (styles across, contents down)."""
    contents, styles = demo_contents(), demo_styles()
    if not contents or not styles:
        raise WaestyleError("this install has no demo images (waestyle/assets/content and style)")
    targets = [out / demo_output_name(c, s) for c in contents for s in styles] + [out / GRID_FILE]
    existing = [t for t in targets if t.exists()]
    if existing and not overwrite:
        raise WaestyleError(f"{existing[0]} exists; pass --overwrite to replace the demo's outputs")
    stylizer = Stylizer.load(model_dir, device=device, backend=backend, compile=compile, style_head=style_head)
    style_images = [load_image(s) for s in styles]  # read once: for the latents and for the grid
    start = time.perf_counter()
    z_styles = [stylizer.style(image) for image in style_images]
    style_seconds = (time.perf_counter() - start) / len(styles)

    cell = lambda image: pil_to_tensor(resize_center_crop(image, GRID_CELL))  # noqa: E731
    rows = [[torch.ones(3, GRID_CELL, GRID_CELL)] + [cell(image) for image in style_images]]
    outputs, elapsed = [], 0.0
    for content in tqdm(contents, desc="demo", unit="content", disable=not progress):
        image = load_image(content)
        start = time.perf_counter()
        results = stylizer.transfer_images([image], z_styles, long_side=long_side)
        elapsed += time.perf_counter() - start
        row = [cell(image)]
        for style, (result,) in zip(styles, results, strict=True):
            path = out / demo_output_name(content, style)
            save_image(result, path)
            outputs.append(path)
            row.append(cell(result))
        rows.append(row)
    grid = out / GRID_FILE
    save_image(make_grid([torch.stack(r) for r in rows]), grid)
    return DemoResult(outputs, grid, elapsed / len(outputs), style_seconds)
