"""Write the offline sample data the preliminary experiment used (no download).

    python benchmarks/make_sample_data.py OUT_DIR

OUT_DIR/photos (240 crops of scikit-image's photos) and OUT_DIR/styles (240 procedural styles) for
training; OUT_DIR/eval-c and OUT_DIR/eval-s (8 of each, other seeds) held out for evaluation.
"""

import argparse
from pathlib import Path

from waestyle.data.samples import photo_crops, procedural_style, write_images


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("out", type=Path)
    args = parser.parse_args()
    write_images(photo_crops(240, seed=0), args.out / "photos", "photo")
    write_images([procedural_style(i) for i in range(240)], args.out / "styles", "style", ".png")
    write_images(photo_crops(8, seed=2000, min_side=96), args.out / "eval-c", "photo")
    write_images([procedural_style(30000 + i) for i in range(8)], args.out / "eval-s", "style", ".png")
    print(f"wrote sample data to {args.out}")


if __name__ == "__main__":
    main()
