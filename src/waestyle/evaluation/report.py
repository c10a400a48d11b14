"""Writing an Evaluation to a folder: report.md, metrics.csv / metrics.json, grids and plots."""

import csv
import io
import json
import math
from collections import defaultdict
from pathlib import Path

import torch
import torch.nn.functional as F
from PIL import Image

from waestyle.core.files import atomic_write_bytes
from waestyle.data.images import make_grid, save_image
from waestyle.evaluation.methods import IdentityMethod
from waestyle.evaluation.runner import Evaluation

COLUMNS = ("method", "content_dim", "kind", "content", "style", "psnr", "ssim", "style_distance",
           "content_distance", "colour_distance", "style_distance_2", "texture_distance", "grey_ssim",
           "style_ssim", "seconds_per_image", "kernels")  # fmt: skip
IDENTITY = IdentityMethod.name
GRID_CELL = 256  # long side of each image in the report's grids
SUMMARY = (("psnr", "PSNR (dB) ↑"), ("ssim", "SSIM ↑"), ("style_distance", "style dist ↓"),
           ("style_distance_2", "style dist, 2nd judge ↓"), ("texture_distance", "texture dist ↓"),
           ("colour_distance", "colour dist ↓"), ("content_distance", "content dist ↓"),
           ("grey_ssim", "SSIM to content ↑"), ("style_ssim", "SSIM to style (layout copied) ↓"))  # fmt: skip
# Per pair, how much of the unstylised content's distance to the style a method removes (median over pairs).
CUTS = (("texture_distance", "texture cut"), ("colour_distance", "colour cut"), ("style_distance_2", "style cut, 2nd"))


def summarise(evaluation: Evaluation) -> list[dict]:
    """Per method: the mean of every metric, and transfer speed (s per image, images per s)."""
    by_method: dict[str, dict] = {}
    values: dict[str, dict[str, list[float]]] = defaultdict(lambda: defaultdict(list))
    for row in evaluation.rows:
        summary = by_method.setdefault(row["method"], {"method": row["method"], "content_dim": row["content_dim"]})
        if "kernels" in row:
            summary["kernels"] = row["kernels"]
        for key, _ in SUMMARY:
            if key in row:
                values[row["method"]][key].append(row[key])
        if row["kind"] == "transfer":
            values[row["method"]]["seconds_per_image"].append(row["seconds_per_image"])
    for name, summary in by_method.items():
        for key, samples in values[name].items():
            summary[key] = sum(samples) / len(samples)
        seconds = summary.get("seconds_per_image")
        summary["images_per_s"] = 1 / seconds if seconds else None
    _count_style_wins(evaluation.rows, by_method)
    _median_cuts(evaluation.rows, by_method)
    return list(by_method.values())


def _median_cuts(rows: list[dict], by_method: dict[str, dict]) -> None:
    """Per method and measure, the median over pairs of 1 - d(output, style) / d(content, style)."""
    transfers = [r for r in rows if r["kind"] == "transfer"]
    for key, _ in CUTS:
        reference = {(r["content"], r["style"]): r.get(key) for r in transfers if r["method"] == IDENTITY}
        cuts: dict[str, list[float]] = defaultdict(list)
        for r in transfers:
            before = reference.get((r["content"], r["style"]))
            if r["method"] != IDENTITY and before and r.get(key) is not None:
                cuts[r["method"]].append(1.0 - r[key] / before)
        for name, values in cuts.items():
            by_method[name][f"{key}_cut"] = sorted(values)[len(values) // 2]


def _count_style_wins(rows: list[dict], by_method: dict[str, dict]) -> None:
    """Per method, the share of pairs whose output is nearer the style (in style distance) than the
    unstylised content is: a transfer should win on (almost) every pair."""
    transfers = [r for r in rows if r["kind"] == "transfer"]
    reference = {(r["content"], r["style"]): r["style_distance"] for r in transfers if r["method"] == IDENTITY}
    if not reference:
        return
    wins: dict[str, list[bool]] = defaultdict(list)
    for r in transfers:
        if r["method"] != IDENTITY and (r["content"], r["style"]) in reference:
            wins[r["method"]].append(r["style_distance"] < reference[(r["content"], r["style"])])
    for name, won in wins.items():
        by_method[name]["style_wins"] = f"{sum(won)}/{len(won)}"


def _percent(value: float | None) -> str | None:
    return None if value is None else f"{100 * value:.0f} %"


def _cell(value) -> str:
    if value is None:
        return "—"
    if isinstance(value, float):
        return f"{value:.4g}" if abs(value) < 1000 else f"{value:.0f}"
    return str(value)


def _thumbnail_grid(rows: list[torch.Tensor]) -> Image.Image:
    """The grid with each image area-averaged to at most GRID_CELL px: a picture to look at, not an archive
    (the numbers are in metrics.json; a 512-px grid of ten methods was 15 MB as PNG)."""
    side = max(rows[0].shape[-2:])
    if side > GRID_CELL:
        rows = [F.interpolate(r.float(), scale_factor=GRID_CELL / side, mode="area") for r in rows]
    return make_grid([r.cpu() for r in rows])


def write_report(evaluation: Evaluation, out: Path, setup: dict, contents: torch.Tensor, styles: torch.Tensor) -> Path:
    """Write everything into `out`; returns the path of report.md."""
    out.mkdir(parents=True, exist_ok=True)
    summary = summarise(evaluation)
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=COLUMNS, restval="")
    writer.writeheader()
    writer.writerows(evaluation.rows)
    atomic_write_bytes(out / "metrics.csv", buffer.getvalue().encode())
    document = {"setup": setup, "summary": summary, "rows": evaluation.rows}
    atomic_write_bytes(out / "metrics.json", (json.dumps(document, indent=1) + "\n").encode())

    pairs = min(len(contents), len(styles), *(len(o) for o in evaluation.grid_outputs.values()))
    rows = [contents[:pairs], styles[:pairs], *(o[:pairs] for o in evaluation.grid_outputs.values())]
    save_image(_thumbnail_grid(rows), out / "transfer-grid.jpg")
    recon_rows = [contents[:pairs], *(r[:pairs] for r in evaluation.grid_reconstructions.values())]
    save_image(_thumbnail_grid(recon_rows), out / "reconstruction-grid.jpg")
    plotted = _plot_content_sizes(summary, out / "content-size.png")

    lines = ["# waestyle evaluation\n", "| setting | value |", "| --- | --- |"]
    lines += [f"| {key} | {_cell(value)} |" for key, value in setup.items()]
    lines += ["", "## Summary (means over all images and pairs)", ""]
    header = ["method", "k"] + [label for _, label in SUMMARY] + ["more stylised"] + [label for _, label in CUTS]
    header += ["s / image", "images / s"]
    lines += ["| " + " | ".join(header) + " |", "|" + " --- |" * len(header)]
    for s in summary:
        cells = [s["method"], s["content_dim"]] + [s.get(key) for key, _ in SUMMARY] + [s.get("style_wins")]
        cells += [_percent(s.get(f"{key}_cut")) for key, _ in CUTS]
        cells += [s.get("seconds_per_image"), s.get("images_per_s")]
        lines.append("| " + " | ".join(_cell(c) for c in cells) + " |")
    lines += ["", "Transfers (rows: content, style, then one row per method; column j is content j with style j):",
              "", "![transfers](transfer-grid.jpg)", "", "Reconstructions (first row: the originals):", "",
              "![reconstructions](reconstruction-grid.jpg)", ""]  # fmt: skip
    if plotted:
        lines += ["Metrics against the content size k:", "", "![content size](content-size.png)", ""]
    lines += [METRIC_NOTES]
    path = out / "report.md"
    atomic_write_bytes(path, "\n".join(lines).encode())
    return path


METRIC_NOTES = """## Metrics
- **PSNR** = 10·log10(1 / MSE) on pixels in [0, 1], capped at 100 dB (identical images); **SSIM**: scikit-image's
  `structural_similarity` (7×7 windows, data range 1, averaged over RGB). Both on reconstructions.
- **style distance** = mean over the judge's style layers of ‖G(out) − G(style)‖² / ‖G(style)‖², G the Gram
  matrix F Fᵀ / (H·W): 0 is the style's statistics.
- **content distance** = ‖F(out) − F(content)‖² / ‖F(content)‖² at the judge's content layer: 0 is the content.
- **colour distance**: sliced Wasserstein-1 between the output's and the style's pixel colours (64 fixed random
  directions in RGB, 256 quantiles, images area-averaged to ≤ 128 px): 0 is the same palette, whatever the layout.
- **style dist, 2nd judge**: the same Gram distance in a second network, `random-vgg19-judge` (a half-width
  VGG19 with seeded random weights that no training loss uses), when the evaluation has one.
- **texture distance**: mean squared log-ratio of the statistics (mean |response|, standard deviation) of 15
  derivative-of-Gaussian filters (x, y, xx, yy, xy at σ = 1, 2, 4 px) on luminance, plus its contrast: no
  learned network at all. **SSIM to content**: grey-level SSIM of the output to the content (structure kept).
- **SSIM to style**: grey-level SSIM of the output to the style image, pixel by pixel. A transfer takes the
  style's statistics, not its layout, so it should stay near the unstylised content's value; a higher one
  means the output copies the style picture. Every style judge above rewards that: a plain blend of the output
  with the style image cuts the style distances further than any transfer (see docs/evaluation.md).
- **cuts**: per pair, 1 − d(output, style) / d(content, style) for a distance d, median over pairs: the share of
  the gap to the style that the method closes (0 % does nothing, 100 % reaches the style's statistics).
- **more stylised**: pairs whose output has a lower style distance than the unstylised content image has.
- **speed**: wall-clock seconds per image of the transfer call (style encoding included), in this process.
"""


def _plot_content_sizes(summary: list[dict], path: Path) -> bool:
    """Style, content and PSNR against k for every model evaluated at several content sizes."""
    series: dict[str, list[dict]] = defaultdict(list)
    for s in summary:
        if s["content_dim"] is not None:
            series[s["method"].rsplit(" k=", 1)[0]].append(s)
    series = {
        name: sorted(points, key=lambda p: p["content_dim"]) for name, points in series.items() if len(points) > 1
    }
    if not series:
        return False
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    metrics = [("style_distance", "style distance ↓"), ("content_distance", "content distance ↓"), ("psnr", "PSNR ↑")]
    figure, axes = plt.subplots(1, len(metrics), figsize=(4 * len(metrics), 3.2), constrained_layout=True)
    for axis, (key, label) in zip(axes, metrics, strict=True):
        for name, points in series.items():
            ks = [p["content_dim"] for p in points if p.get(key) is not None and math.isfinite(p[key])]
            ys = [p[key] for p in points if p.get(key) is not None and math.isfinite(p[key])]
            axis.plot(ks, ys, marker="o", label=name)
        axis.set_xscale("log", base=2)
        axis.set_xlabel("content size k (channels of z_c kept)")
        axis.set_title(label)
    axes[0].legend(fontsize=7)
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", dpi=100)
    plt.close(figure)
    atomic_write_bytes(path, buffer.getvalue())
    return True
