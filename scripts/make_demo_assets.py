"""Rebuild the bundled demo images in src/waestyle/assets/ from their sources (no download).

    apt-get install lomiri-wallpapers-16.04      # CC-BY-4.0 / CC0 photographs (Debian)
    pip install scikit-image matplotlib          # CC0 / public-domain sample images
    python scripts/make_demo_assets.py [--out src/waestyle/assets]

Every image is resized to at most 512 px on its long side. The sources and licences are listed in
SOURCES below and in assets/LICENSES.md; nothing here is used for training (see
`waestyle data prepare-demo`, which draws on other images), so the demo images are held out.
"""

import argparse
from pathlib import Path

from PIL import Image

from waestyle.data.demo_recipe import package_file
from waestyle.data.samples import procedural_style

MAX_SIDE = 512
BACKGROUNDS = Path("/usr/share/backgrounds")

# name -> (where it comes from, file there); "procedural:FAMILY:SEED" is drawn by waestyle.data.samples.
CONTENTS = {
    "astronaut": ("skimage", "astronaut.png"),
    "grace-hopper": ("matplotlib", "grace_hopper.jpg"),
    "cat": ("skimage", "chelsea.png"),
    "dogs": ("lomiri", "friends_by_Aitzol_Berasategi.jpg"),
    "mountains": ("lomiri", "aitzgorri_by_Aitzol_Berasategi.jpg"),
    "peaks": ("lomiri", "picosdeeuropa_by_Aitzol_Berasategi.jpg"),
    "coffee": ("skimage", "coffee.png"),
    "fig": ("lomiri", "Picture_0B_by_freespace.jpg"),
}
STYLES = {
    "brick": ("skimage", "brick.png"),
    "gravel": ("skimage", "gravel.png"),
    "gradient-art": ("lomiri", "umang_by_Abhishek_Mudgal.jpg"),
    "brushes": ("lomiri", "Picture_1A_by_freespace.jpg"),
    "strokes": ("procedural", "strokes:7"),
    "mosaic": ("procedural", "mosaic:11"),
    "dots": ("procedural", "dots:3"),
    "rings": ("procedural", "rings:19"),
}


def source_image(kind: str, name: str) -> Image.Image:
    """Open one source image from the package or Debian folder that ships it."""
    if kind == "procedural":
        family, seed = name.split(":")
        return procedural_style(int(seed), size=MAX_SIDE, family=family)
    if kind in ("skimage", "matplotlib"):
        path = package_file(kind, name)
        if path is None:
            raise SystemExit(f"{kind} is missing: pip install scikit-image matplotlib")
        return Image.open(path)
    if kind == "lomiri":
        path = BACKGROUNDS / name
        if not path.is_file():
            raise SystemExit(f"{path} is missing: apt-get install lomiri-wallpapers-16.04")
        return Image.open(path)
    raise ValueError(kind)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=Path("src/waestyle/assets"))
    args = parser.parse_args()
    for folder, table in (("content", CONTENTS), ("style", STYLES)):
        (args.out / folder).mkdir(parents=True, exist_ok=True)
        for name, (kind, source) in table.items():
            image = source_image(kind, source).convert("RGB")
            image.thumbnail((MAX_SIDE, MAX_SIDE), Image.Resampling.LANCZOS)
            image.save(args.out / folder / f"{name}.jpg", quality=88, optimize=True)
            print(f"{folder}/{name}.jpg {image.size[0]}x{image.size[1]} from {kind}:{source}")


if __name__ == "__main__":
    main()
