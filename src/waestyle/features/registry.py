"""Feature networks by name, so configs and the CLI can say `--features vgg19`."""

from collections.abc import Callable
from pathlib import Path

from waestyle.errors import WaestyleError
from waestyle.features.base import FeatureNetwork
from waestyle.features.efficientnet import load_efficientnet_lite0
from waestyle.features.vgg import load_vgg19

FEATURE_NETWORKS: dict[str, Callable[..., FeatureNetwork]] = {
    "efficientnet-lite0": load_efficientnet_lite0,
    "vgg19": load_vgg19,
}


def load_feature_network(name: str, weights: str | Path | None = None) -> FeatureNetwork:
    """The frozen network `name`; `weights` overrides where its weight file is read from."""
    if name not in FEATURE_NETWORKS:
        raise WaestyleError(f"unknown feature network {name!r}; choose one of {', '.join(FEATURE_NETWORKS)}")
    return FEATURE_NETWORKS[name](weights)
