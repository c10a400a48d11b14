"""The recipe for the default model's training set (`waestyle data prepare-demo`).

The demo images (`waestyle/assets/`, sources in its LICENSES.md) are held out: `prepare_demo_data`
draws its training images from other sources, all installable here without a download at run
time: scikit-image's and matplotlib's sample photographs (pip), the CC0 / CC BY 4.0 photographs of
Debian's `lomiri-wallpapers-16.04` when installed, and procedural styles drawn on the spot.
"""

from pathlib import Path

import numpy as np
from PIL import Image
from tqdm import tqdm

from waestyle.core.errors import WaestyleError
from waestyle.data.samples import procedural_style

BACKGROUNDS = Path("/usr/share/backgrounds")

# (package, file, licence) of the training photographs; none is a demo image.
PIP_PHOTOS = (
    ("skimage", "rocket.jpg", "public domain (SpaceX)"),
    ("skimage", "hubble_deep_field.jpg", "public domain (NASA)"),
    ("skimage", "retina.jpg", "CC0"),
    ("skimage", "camera.png", "CC0 (Lav Varshney)"),
    ("skimage", "ihc.png", "no known copyright restrictions"),
)
DEBIAN_PHOTOS = (
    ("seeding_by_Clements_Engelhardt.jpg", "CC0 (Clemens Engelhardt)"),
    ("sunset_by_Aitzol_Berasategi.jpg", "CC BY 4.0 (Aitzol Berasategi)"),
    ("life_by_Aitzol_Berasategi.jpg", "CC BY 4.0 (Aitzol Berasategi)"),
    ("Wine_by_Jakkub_Mede.jpg", "CC BY 4.0 (Jakub Mede)"),
)
# Texture photographs used as styles in training (the demo uses brick and gravel, held out).
PIP_TEXTURES = (("skimage", "grass.png", "CC0 (CC0Textures)"),)
STYLE_SEED_OFFSET = 1000  # the demo's procedural styles use seeds below this


def package_file(package: str, name: str) -> Path | None:
    """A sample file shipped inside scikit-image or matplotlib, or None without that package."""
    try:
        if package == "skimage":
            import skimage.data

            return Path(skimage.data.__file__).parent / name
        import matplotlib

        return Path(matplotlib.get_data_path()) / "sample_data" / name
    except ImportError:
        return None


def _sources(backgrounds: Path) -> tuple[list[tuple[Path, str]], list[tuple[Path, str]]]:
    photos = [(package_file(p, n), f"{p} sample data {n}: {lic}") for p, n, lic in PIP_PHOTOS]
    photos += [(backgrounds / n, f"Debian lomiri-wallpapers-16.04 {n}: {lic}") for n, lic in DEBIAN_PHOTOS]
    textures = [(package_file(p, n), f"{p} sample data {n}: {lic}") for p, n, lic in PIP_TEXTURES]
    keep = lambda items: [(path, what) for path, what in items if path is not None and path.is_file()]  # noqa: E731
    return keep(photos), keep(textures)


def random_crops(image: Image.Image, count: int, rng: np.random.Generator, size: int) -> list[Image.Image]:
    """Square crops near the scale of a 512-px demo photo, which a spatial model processes at its own size."""
    image = image.convert("RGB")
    image.thumbnail((512, 512), Image.Resampling.LANCZOS)
    crops = []
    for _ in range(count):
        side = int(rng.integers(min(64, min(image.size)), min(160, min(image.size)) + 1))
        x = int(rng.integers(0, image.size[0] - side + 1))
        y = int(rng.integers(0, image.size[1] - side + 1))
        crops.append(image.crop((x, y, x + side, y + side)).resize((size, size), Image.Resampling.LANCZOS))
    return crops


def prepare_demo_data(out: Path, count: int = 600, seed: int = 0, backgrounds: Path = BACKGROUNDS) -> dict:
    """Write OUT/photos and OUT/styles (about `count` images each) and OUT/SOURCES.md; return counts."""
    photos, textures = _sources(Path(backgrounds))
    if not photos:
        raise WaestyleError("no training photographs found: install scikit-image (pip install 'waestyle[eval]')")
    if any(out.joinpath(sub).exists() for sub in ("photos", "styles")):
        raise WaestyleError(f"{out} already holds photos/ or styles/; choose an empty folder")
    rng = np.random.default_rng(seed)
    (out / "photos").mkdir(parents=True)
    (out / "styles").mkdir(parents=True)
    per_photo = max(1, count // len(photos))
    with tqdm(total=per_photo * len(photos) + count, desc="prepare-demo", unit="image") as bar:
        for i, (path, _) in enumerate(photos):
            for j, crop in enumerate(random_crops(Image.open(path), per_photo, rng, 96)):
                crop.save(out / "photos" / f"photo-{i:02d}-{j:04d}.jpg", quality=92)
                bar.update()
        n_textures = count // 10 if textures else 0
        for i, (path, _) in enumerate(textures):
            for j, crop in enumerate(random_crops(Image.open(path), n_textures // len(textures), rng, 96)):
                crop.save(out / "styles" / f"texture-{i:02d}-{j:04d}.jpg", quality=92)
                bar.update()
        for j in range(count - n_textures):
            procedural_style(STYLE_SEED_OFFSET + seed * count + j, size=96).save(out / "styles" / f"style-{j:04d}.png")
            bar.update()
    lines = ["# Training set written by `waestyle data prepare-demo`", "", "Photographs (random square crops):"]
    lines += [f"- {what}" for _, what in photos]
    lines += ["", "Styles: procedural styles drawn by waestyle.data.samples (MIT), and crops of:"]
    lines += [f"- {what}" for _, what in textures]
    missing = [n for n, _ in DEBIAN_PHOTOS if not (Path(backgrounds) / n).is_file()]
    if missing:
        lines += ["", f"Not found in {backgrounds} (apt-get install lomiri-wallpapers-16.04 adds them): {len(missing)}"]
    (out / "SOURCES.md").write_text("\n".join(lines) + "\n")
    n_photos = len(list((out / "photos").iterdir()))
    return {"photos": n_photos, "styles": len(list((out / "styles").iterdir())), "missing": len(missing)}
