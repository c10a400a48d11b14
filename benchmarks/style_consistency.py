"""Does style-consistency training make swaps transfer style? Two spatial models, one difference.

    python benchmarks/style_consistency.py --out runs/style-consistency [--steps 600] [--grid docs/images/x.png]

Trains a spatial model with reconstruction + MMD only, and one that adds the style-consistency
terms (--style-loss-weight, --content-loss-weight), from the same seed on the same data: crops
of scikit-image's photos mixed with procedural textured styles (waestyle.data.samples). Then measures,
on held-out photos x held-out styles, the style distance of swapped outputs to the style image
and their content distance to the photo (waestyle.evaluation.runner), prints one table, writes
results.json, and saves a grid: content, style, output without, output with.
"""

import argparse
import json
import time
from pathlib import Path

import torch

from waestyle.core.config import ModelConfig, TrainConfig
from waestyle.data.images import make_grid, save_image
from waestyle.data.samples import photo_crops, procedural_style, write_images
from waestyle.evaluation.runner import reconstruction_error, square_batch, transfer_distances
from waestyle.stylize.stylizer import Stylizer
from waestyle.training.loop import train


def make_data(folder: Path, count: int) -> list[str]:
    photos, styles = folder / "photos", folder / "styles"
    if not photos.is_dir():
        write_images(photo_crops(count, seed=0), photos, "photo")
        write_images([procedural_style(seed) for seed in range(count)], styles, "style")
    return [str(photos), str(styles)]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=Path("runs/style-consistency"))
    parser.add_argument("--steps", type=int, default=600)
    parser.add_argument("--batch-size", type=int, default=16)
    parser.add_argument("--image-size", type=int, default=64)
    parser.add_argument("--style-loss-weight", type=float, default=0.1)
    parser.add_argument("--content-loss-weight", type=float, default=0.05)
    parser.add_argument("--images", type=int, default=200, help="training photos, and as many styles")
    parser.add_argument("--grid", type=Path, default=None, help="also save the comparison grid here")
    args = parser.parse_args()
    torch.manual_seed(0)

    data = make_data(args.out / "data", args.images)
    model_config = ModelConfig(arch="spatial", image_size=args.image_size, content_dim=32, style_dim=32)
    variants = {
        "reconstruction only": (0.0, 0.0),
        "style consistency": (args.style_loss_weight, args.content_loss_weight),
    }
    contents = square_batch(photo_crops(8, seed=1000, min_side=96), args.image_size)
    styles = square_batch([procedural_style(seed) for seed in range(10_000, 10_008)], args.image_size)
    results, outputs = {}, {}
    for name, (style_weight, content_weight) in variants.items():
        run_dir = args.out / name.replace(" ", "-")
        config = TrainConfig(
            data=data,
            steps=args.steps,
            batch_size=args.batch_size,
            style_loss_weight=style_weight,
            content_loss_weight=content_weight,
            checkpoint_every=args.steps,
            sample_every=args.steps,
        )
        started = time.perf_counter()
        if not (run_dir / "model.safetensors").is_file():
            train(model_config, config, run_dir)
        stylizer = Stylizer.load(run_dir)
        results[name] = {
            **transfer_distances(stylizer, contents, styles),
            "reconstruction_mse": reconstruction_error(stylizer, contents),
            "train_seconds": round(time.perf_counter() - started, 1),
            "style_loss_weight": style_weight,
            "content_loss_weight": content_weight,
        }
        outputs[name] = torch.cat([stylizer.transfer(contents[i : i + 1], styles[i : i + 1]) for i in range(4)])

    print(
        f"{args.steps} steps x {args.batch_size} images at {args.image_size} px; 8 held-out photos x 8 held-out styles"
    )
    print(f"{'model':<22} {'style dist':>10} {'content dist':>12} {'recon MSE':>10} {'train s':>8}")
    for name, r in results.items():
        print(
            f"{name:<22} {r['style']:>10.4f} {r['content']:>12.4f} {r['reconstruction_mse']:>10.5f} "
            f"{r['train_seconds']:>8.1f}"
        )
    print(f"{'(content unchanged)':<22} {results[name]['style_before']:>10.4f} {0.0:>12.4f}")
    (args.out / "results.json").write_text(json.dumps(results, indent=2) + "\n")
    rows = [contents[:4], styles[:4], *outputs.values()]
    grid = make_grid([r.cpu() for r in rows])
    save_image(grid, args.out / "grid.png")
    if args.grid:
        save_image(grid, args.grid)
    print(f"grid rows: content, style, {', '.join(outputs)} -> {args.out / 'grid.png'}")


if __name__ == "__main__":
    main()
