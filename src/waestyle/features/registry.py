"""Feature networks by name, so configs and the CLI can say `--features vgg19`."""

from collections.abc import Callable
from pathlib import Path

from waestyle.core.errors import WaestyleError
from waestyle.features.base import FeatureNetwork
from waestyle.features.efficientnet import EfficientNetLite, fold_batch_norms, load_efficientnet_lite
from waestyle.features.vgg import RANDOM_VGG19, load_vgg19, random_vgg19

FEATURE_NETWORKS: dict[str, Callable[..., FeatureNetwork]] = {
    "efficientnet-lite0": lambda: load_efficientnet_lite("efficientnet-lite0"),
    "efficientnet-lite1": lambda: load_efficientnet_lite("efficientnet-lite1"),
    "efficientnet-lite2": lambda: load_efficientnet_lite("efficientnet-lite2"),
    "vgg19": load_vgg19,
    **{name: (lambda name=name: random_vgg19(name)) for name in RANDOM_VGG19},
}


def load_feature_network(name: str, vgg19_weights: str | Path | None = None) -> FeatureNetwork:
    """The frozen network `name`.

    The Lite networks ship their weights in packages and the random VGGs make theirs from a seed; only VGG19
    needs a user-supplied file, so `vgg19_weights` is read by VGG19 alone and ignored otherwise (one CLI
    flag can then serve every model).
    """
    if name not in FEATURE_NETWORKS:
        raise WaestyleError(f"unknown feature network {name!r}; choose one of {', '.join(FEATURE_NETWORKS)}")
    if name == "vgg19":
        return load_vgg19(vgg19_weights)
    return FEATURE_NETWORKS[name]()


def load_loss_network(name: str, vgg19_weights: str | Path | None = None) -> FeatureNetwork:
    """`name` for use inside a loss: the same maps, batch norms folded into the convolutions where it has them
    (faster forward and backward passes; never used for a model's own style encoder, whose saved weights
    expect the network as loaded)."""
    net = load_feature_network(name, vgg19_weights)
    return fold_batch_norms(net) if isinstance(net, EfficientNetLite) else net
