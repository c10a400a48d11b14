"""Where the files shipped inside the package are: demo images and the default model."""

from pathlib import Path

ASSETS = Path(__file__).parent.parent / "assets"
DEFAULT_MODEL = ASSETS / "model"


def demo_contents() -> list[Path]:
    """The bundled content images (people, animals, landscapes, objects), sorted by name."""
    return sorted((ASSETS / "content").glob("*.jpg"))


def demo_styles() -> list[Path]:
    """The bundled style images (textures, digital art, paint, procedural strokes), sorted by name."""
    return sorted((ASSETS / "style").glob("*.jpg"))
