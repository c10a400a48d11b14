"""Style representations: which statistics of which frozen networks a style loss compares.

A `StyleSpec` names one: a feature network (and, for random VGGs, extra seeds), an optional softmax
smoothing of the activations (SWAG: Wang, Li & Vasconcelos, CVPR 2021), image scales (a pyramid), Gram
matrices or sliced-Wasserstein quantiles, and whether per-channel means and standard deviations join them.
`StyleStatistics` computes them: `statistics(images)` once per target, `distance(out_stats, target_stats)`
per image, relative, so 0 is the target's style and 1 as far as all-zero statistics, whatever the
representation.

Training, refinement and the ceiling test (scripts/ceiling_test.py) all compare styles through it.
"""

from collections.abc import Sequence
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

from waestyle.core.errors import WaestyleError
from waestyle.features.base import FeatureNetwork, gram
from waestyle.features.distances import relative_squared_distance
from waestyle.features.registry import load_loss_network
from waestyle.features.vgg import RANDOM_VGG19, seeded_vgg19


@dataclass(frozen=True)
class StyleSpec:
    """One style representation (see the module docstring)."""

    network: str
    # random VGGs only: more copies of the same shape with these seeds, each adding its statistics
    seeds: tuple[int, ...] = ()
    # SWAG: each layer's map becomes exp(F / T) / mean(exp(F / T)) with T = smoothing x the map's standard
    # deviation (per image); 0 keeps the raw activations
    smoothing: float = 0.0
    # image scales the statistics are read at (1: as given; 0.5: halved), each a set of its own
    scales: tuple[float, ...] = (1.0,)
    # per-channel means and standard deviations beside the Gram matrices (AdaIN's statistics)
    moments: bool = False
    # the whole distribution of each layer's activations instead of its Gram matrix: quantiles of its projections
    # on fixed random directions (sliced Wasserstein; Heitz et al., CVPR 2021), so any two with the same
    # statistics have the same feature histograms along every direction, not only the same correlations
    sliced: bool = False


def smooth(features: torch.Tensor, smoothing: float) -> torch.Tensor:
    """SWAG's softmax over a whole map (all channels and positions), rescaled to mean 1 so that the
    statistics do not shrink with the map's size; the temperature follows the map's own spread."""
    flat = features.float().flatten(1)
    temperature = smoothing * flat.std(dim=1, keepdim=True).clamp_min(1e-6)
    scaled = (flat - flat.amax(dim=1, keepdim=True).detach()) / temperature
    return torch.softmax(scaled, dim=1).mul(flat.shape[1]).view_as(features)


SLICE_LEVELS = 64  # quantiles kept per projection: sizes may differ, and sorting cost is the same


def sliced_quantiles(features: torch.Tensor, directions: torch.Tensor) -> torch.Tensor:
    """(B, P * SLICE_LEVELS): each map's activations projected on the (P, C) unit `directions`, sorted, and read
    at evenly spaced quantiles (the sort carries gradients)."""
    projected = directions @ features.float().flatten(2)  # (B, P, N)
    ordered = projected.sort(dim=2).values
    ranks = torch.linspace(0, ordered.shape[2] - 1, SLICE_LEVELS, device=features.device).round().long()
    return ordered[..., ranks].flatten(1)


def moments(features: torch.Tensor) -> torch.Tensor:
    """(B, 2C): per-channel mean and standard deviation."""
    flat = features.float().flatten(2)
    return torch.cat([flat.mean(2), (flat.var(2, unbiased=False) + 1e-5).sqrt()], dim=1)


class Pixels(FeatureNetwork):
    """The image itself as one "layer": its colours' Gram matrix (second moments), moments or quantiles."""

    name, style_layers, content_layer, channels = "pixels", ("rgb",), "rgb", {"rgb": 3}

    def forward(self, images: torch.Tensor, layers: tuple[str, ...]) -> dict[str, torch.Tensor]:
        return {"rgb": images}


def _networks(spec: StyleSpec) -> list[FeatureNetwork]:
    if spec.network == "pixels":
        return [Pixels()]
    networks = [load_loss_network(spec.network)]
    if spec.seeds:
        divisor = RANDOM_VGG19[spec.network][0]  # KeyError: seeds only make sense for a random VGG
        networks += [seeded_vgg19(f"{spec.network}-seed{seed}", divisor, seed) for seed in spec.seeds]
    return networks


class StyleStatistics(nn.Module):
    """The frozen networks of one or more `StyleSpec`s (parts) and the statistics they give an image batch."""

    def __init__(self, specs: tuple[StyleSpec, ...], networks: list[list[FeatureNetwork]]):
        super().__init__()
        self.specs = specs
        self.parts = nn.ModuleList(nn.ModuleList(nets) for nets in networks)
        generator = torch.Generator().manual_seed(0)
        for part, (spec, nets) in enumerate(zip(specs, networks, strict=True)):
            for index, net in enumerate(nets if spec.sliced else []):  # fixed directions, as many as channels
                for layer in net.style_layers:
                    directions = torch.randn(net.channels[layer], net.channels[layer], generator=generator)
                    self.register_buffer(
                        f"directions_{part}_{index}_{layer}", directions / directions.norm(dim=1, keepdim=True)
                    )

    @classmethod
    def load(cls, specs: "StyleSpec | tuple[StyleSpec, ...]") -> "StyleStatistics":
        specs = (specs,) if isinstance(specs, StyleSpec) else tuple(specs)
        return cls(specs, [_networks(spec) for spec in specs])

    @property
    def networks(self) -> list[FeatureNetwork]:
        return [net for nets in self.parts for net in nets]

    def statistics(self, images: torch.Tensor, maps: dict | None = None) -> dict[str, torch.Tensor]:
        """{key: (B, D)} for every part, network, scale, layer and statistic; gradients flow to `images`.
        `maps`, when given, receives each network's raw maps at scale 1 by network name (so a caller can read
        another term from the same pass)."""
        out = {}
        for part, (spec, nets) in enumerate(zip(self.specs, self.parts, strict=True)):
            for scale in spec.scales:
                scaled = images if scale == 1 else F.interpolate(images, scale_factor=scale, mode="area")
                for index, net in enumerate(nets):
                    net_maps = net(scaled, net.style_layers)
                    if maps is not None and scale == 1:
                        maps.setdefault(net.name, net_maps)
                    for layer, features in net_maps.items():
                        key = f"{part}/{index}/{scale}/{layer}"
                        out.update(self._layer_statistics(key, spec, features))
        return out

    def _layer_statistics(self, key: str, spec: StyleSpec, features: torch.Tensor) -> dict[str, torch.Tensor]:
        if spec.smoothing:
            features = smooth(features, spec.smoothing)
        part, index, _, layer = key.split("/")
        out = {}
        if spec.sliced:
            out[f"{key}/sliced"] = sliced_quantiles(features, getattr(self, f"directions_{part}_{index}_{layer}"))
        else:
            out[f"{key}/gram"] = gram(features.float()).flatten(1)
        if spec.moments:
            out[f"{key}/moments"] = moments(features)
        return out

    @staticmethod
    def distance(output: dict[str, torch.Tensor], target: dict[str, torch.Tensor], floor: float = 0.0,
                 part_weights: Sequence[float] | None = None) -> torch.Tensor:  # fmt: skip
        """(B,) relative squared distance per image: averaged over each part's statistics, then over the parts
        (each part counts the same, whatever its number of layers, unless `part_weights` gives one weight per
        part: a weighted mean); `target` may hold one image's statistics for a whole batch (it broadcasts).
        `floor` > 0 holds each denominator at least that share of the targets' median, so a near-zero statistic
        (a near-black style's colours) cannot outweigh the rest of the batch."""
        parts: dict[str, list[torch.Tensor]] = {}
        for key in output:
            distance = relative_squared_distance(output[key], target[key].expand_as(output[key]), floor)
            parts.setdefault(key.split("/")[0], []).append(distance)
        per_part = torch.stack([torch.stack(values).mean(0) for values in parts.values()])
        if part_weights is None:
            return per_part.mean(0)
        if len(part_weights) != len(per_part) or min(part_weights) < 0 or sum(part_weights) <= 0:
            raise WaestyleError(f"need {len(per_part)} non-negative part weights, not {list(part_weights)}")
        weights = per_part.new_tensor(part_weights)
        return (per_part * weights[:, None]).sum(0) / weights.sum()

    def part_weights(self, colour_weight: float) -> list[float] | None:
        """Weights that count the pixel-colour parts `colour_weight` times each other part (None: all alike)."""
        if colour_weight == 1:
            return None
        return [colour_weight if spec.network == "pixels" else 1.0 for spec in self.specs]


# Style losses a model can train with (`--style-loss NAME`), beside the default ("": the relative Gram
# distance in the model's own --features network). Which to add was decided by scripts/ceiling_test.py.
STYLE_LOSSES: dict[str, StyleSpec | tuple[StyleSpec, ...]] = {
    # Gram matrices and per-channel mean/std of the pretrained EfficientNet-Lite0's stages 1-5, and the pixel
    # colours' second moments and mean/std, the two parts weighted alike: the first candidate whose ceiling
    # passed the peer on both judges (docs/results/quality/ceiling)
    "lite0-moments-pixels": (StyleSpec("efficientnet-lite0", moments=True), StyleSpec("pixels", moments=True)),
    # the same, with the colours' whole distribution along three fixed directions (sliced Wasserstein quantiles,
    # Heitz et al.) in place of their second moments: means and covariances leave the palette's shape open
    "lite0-moments-colours": (
        StyleSpec("efficientnet-lite0", moments=True),
        StyleSpec("pixels", moments=True, sliced=True),
    ),
}


def load_style_loss(name: str) -> StyleStatistics | None:
    """The named style loss's networks and statistics; None for "" (the model's own Gram loss)."""
    if not name:
        return None
    if name not in STYLE_LOSSES:
        raise WaestyleError(f"unknown style loss {name!r}; choose one of {', '.join(STYLE_LOSSES)}")
    return StyleStatistics.load(STYLE_LOSSES[name])
