"""Refinement: a few optimiser steps on the style latent, at transfer time, towards the style image's statistics.

The WAE's style latent is a 64-vector with a known prior, and its decoder draws only images like those it was
trained on; so instead of optimising pixels (Gatys et al.: minutes, noise), search z_s for the code whose output
best matches the style image in a style representation (features/style_statistics.py, `loss`), starting from
the style encoder's answer. The search runs on the content at a small working size (`side`), then the refined
code decodes the photo at any size as usual. With `per_layer` (the default for spatial models) each of the
decoder's styled layers gets its own copy of the code to move (StyleGAN's W+): more freedom to match the
statistics at every scale, while each copy stays near the prior's shell. Chosen on training-source pairs
(scripts/refine_table.py has the ablation on held-out ones): one shared code reached Lite2 0.727 after 20 steps
where per-layer codes reached 0.661, and a 128-px working size with lr 0.2 kept that at half the time.
With `offsets` (also the default for spatial models) the search moves each styled layer's per-channel scale and
shift directly as well: a code reaches them only through the layer's linear map, a 64-dimensional subspace of
the 2 x 64..256 values, and the offsets reach the rest while the decoder's convolutions still draw the picture.
On 12 other training-source pairs at 256 px, 20 steps went from Lite2 0.731 and a texture cut of 77 % (codes
only) to 0.616 and 86 % (offset lr 0.01 / 0.03 / 0.1 / 0.3: 0.689 / 0.659 / 0.616 / 0.627; penalty weight
0.01 / 0.1 / 1 / 10: 0.615 / 0.616 / 0.627 / 0.692). The objective per step:

    style distance(decoded, style) / its value at the start
    + content_weight * relative distance of the decoded image's deep content features (pretrained Lite0) to the photo's
    + prior_weight * (|z| - sqrt(d))^2 / d, which keeps the code on the shell where N(0, I) puts its mass
    + offset_weight * mean square of the norm offsets (the mean over layers), which keeps them small

Adam from a fixed start: no random draws, so the same inputs give the same code.
"""

from collections.abc import Sequence
from dataclasses import dataclass

import torch

from waestyle.core.errors import WaestyleError
from waestyle.features import load_loss_network
from waestyle.features.distances import content_distance
from waestyle.features.style_statistics import StyleStatistics, load_style_loss
from waestyle.models.wae import WAEStyleModel
from waestyle.stylize.controls import keep_content
from waestyle.stylize.inputs import pad_to_stride
from waestyle.stylize.resolution import resize, scaled_size

# The representation refinement follows by default: the best of the ceiling test (docs/results/quality/ceiling).
REFINE_LOSS = "lite0-moments-pixels"
CONTENT_NETWORK = "efficientnet-lite0"
# Norm offsets: one (B, 2 x channels) tensor per styled decoder layer, or None.
Offsets = list[torch.Tensor] | None


@dataclass(frozen=True)
class RefineSettings:
    """How the search runs; `steps` = 0 turns it off."""

    steps: int = 0
    side: int = 128
    lr: float = 0.2
    content_weight: float = 0.5
    prior_weight: float = 0.1
    loss: str = REFINE_LOSS
    per_layer: bool = True
    # spatial models: also move each styled layer's per-channel scale and shift directly ("norm offsets"), beyond
    # the 64-dimensional subspace a code reaches through the layer's linear map; held near 0 by `offset_weight`
    offsets: bool = True
    offset_lr: float = 0.1
    offset_weight: float = 0.1
    # how much the style loss's pixel-colour part counts against each of its other parts (1: alike)
    colour_weight: float = 1.0

    def __post_init__(self):
        if self.steps < 0 or not 32 <= self.side <= 512:
            raise WaestyleError("--refine must be 0 or more steps, at a working side from 32 to 512 px")
        if self.colour_weight < 0:
            raise WaestyleError("the colour weight must be 0 or more")

    @classmethod
    def of(cls, refine: "int | RefineSettings") -> "RefineSettings":
        """What `transfer(..., refine=...)` takes: a number of steps (the other settings at their defaults)."""
        return refine if isinstance(refine, RefineSettings) else cls(steps=int(refine))


class Refiner:
    """The frozen networks of the objective, loaded once (on a Stylizer's first refinement)."""

    def __init__(self, model: WAEStyleModel, device: torch.device, loss: str = REFINE_LOSS):
        self.model, self.device, self.loss = model, device, loss
        stats = load_style_loss(loss)
        if stats is None:
            raise WaestyleError("refinement needs a named style loss")
        self.stats: StyleStatistics = stats.to(device)
        self.content_net = load_loss_network(CONTENT_NETWORK).to(device)

    @torch.no_grad()
    def target(self, styles: Sequence[torch.Tensor], weights: Sequence[float] | None = None) -> dict:
        """The statistics to match: one style's, or the weighted mean of several (a mix's target)."""
        weights = [1.0] * len(styles) if weights is None else list(weights)
        total = sum(weights)
        parts = [self.stats.statistics(s.to(self.device)) for s in styles]
        return {key: sum(w / total * p[key] for w, p in zip(weights, parts, strict=True)) for key in parts[0]}

    def refine(self, work: torch.Tensor, z_style: torch.Tensor, target: dict, settings: RefineSettings,
               content_dim: int | None = None, offsets: Offsets = None,
               picture: torch.Tensor | None = None) -> tuple[torch.Tensor, Offsets]:  # fmt: skip
        """(z_s, norm offsets) after `settings.steps` Adam steps on the objective, for the content `work`
        (1, 3, H, W): z_s (1, d), or (1, layers, d) when the search is per layer (spatial models decode both);
        the offsets, one (1, 2 x channels) per styled layer, when `settings.offsets` (else the given ones).
        `picture`: the style picture a mosaic-filled model fills dropped z_c channels from, as the transfer will."""
        if settings.steps == 0:
            return z_style, offsets
        layers = getattr(self.model.decoder, "styled_layers", None)
        if settings.per_layer and layers and z_style.dim() == 2:
            z_style = z_style[:, None].expand(-1, layers, -1)
        searched = settings.offsets and bool(layers)
        if searched and offsets is None:
            offsets = [torch.zeros(1, size, device=work.device) for size in self.model.decoder.modulation_sizes()]
        config, dtype = self.model.config, next(self.model.decoder.parameters()).dtype
        small = resize(work, scaled_size(tuple(work.shape[-2:]), min(settings.side, max(work.shape[-2:]))))
        height, width = small.shape[-2:]
        with torch.no_grad():
            padded = pad_to_stride(small, config.content_stride) if config.arch == "spatial" else small
            code = None
            if picture is not None and config.content_fill == "mosaic":
                picture = resize(picture.to(work.device), scaled_size(tuple(picture.shape[-2:]), max(height, width)))
                code = self.model.encode_content(pad_to_stride(picture, config.content_stride).to(dtype)).float()
            z_content = keep_content(config, self.model.encode_content(padded.to(dtype)), content_dim, code)
            photo = self.content_map(small)
        z = z_style.detach().float().clone().requires_grad_(True)
        moved = [o.detach().float().clone().requires_grad_(True) for o in offsets] if searched else []
        groups = [{"params": [z], "lr": settings.lr}] + ([{"params": moved, "lr": settings.offset_lr}] if moved else [])
        optimizer = torch.optim.Adam(groups)
        start = None
        for _ in range(settings.steps):
            loss, start = self.objective(z, z_content, (height, width), photo, target, settings, content_dim, start,
                                         moved or offsets)  # fmt: skip
            # Only the search's gradients: the networks' weight gradients are never computed (about half the
            # backward pass).
            z.grad, *grads = torch.autograd.grad(loss, [z, *moved])
            for offset, grad in zip(moved, grads, strict=True):
                offset.grad = grad
            optimizer.step()
        return z.detach(), ([o.detach() for o in moved] if moved else offsets)

    def objective(self, z: torch.Tensor, z_content: torch.Tensor, size: tuple[int, int], photo: torch.Tensor,
                  target: dict, settings: RefineSettings, content_dim: int | None, start: torch.Tensor | None = None,
                  offsets: Offsets = None) -> tuple[torch.Tensor, torch.Tensor]:  # fmt: skip
        """(loss, each image's style distance at the start) for the code `z` (and norm offsets); the search's
        objective, also for tests."""
        terms, start = self.terms(z, z_content, size, photo, target, settings, content_dim, start, offsets)
        return terms["loss"], start

    def terms(self, z: torch.Tensor, z_content: torch.Tensor, size: tuple[int, int], photo: torch.Tensor,
              target: dict, settings: RefineSettings, content_dim: int | None, start: torch.Tensor | None = None,
              offsets: Offsets = None) -> tuple[dict[str, torch.Tensor], torch.Tensor]:  # fmt: skip
        """({"loss", "style", "content", "prior", "offset"}, start): the objective and its parts for a batch.
        Each image's style distance counts over its own at the start (`start`, (B,); None: this call's), so every
        style weighs alike when a batch holds several (scripts/style_head.py learns the search that way)."""
        dtype = next(self.model.decoder.parameters()).dtype
        decoded = self.model.decode(z_content, z.to(dtype), content_dim, offsets)[..., : size[0], : size[1]].float()
        maps: dict = {}
        weights = self.stats.part_weights(settings.colour_weight)
        style = self.stats.distance(self.stats.statistics(decoded, maps), target, part_weights=weights)
        start = style.detach().clamp_min(1e-8) if start is None else start
        ratio = (style / start).mean()
        layer = self.content_net.content_layer
        shared = maps.get(CONTENT_NETWORK, {}).get(layer)  # the style loss's pass may hold it already
        content = content_distance(shared if shared is not None else self.content_map(decoded), photo)
        prior = (z.norm(dim=-1) - z.shape[-1] ** 0.5).pow(2).mean() / z.shape[-1]  # per row of a per-layer code
        offset = torch.zeros((), device=ratio.device)
        if offsets is not None and settings.offsets:
            offset = torch.stack([o.pow(2).mean() for o in offsets]).mean()
        loss = ratio + settings.content_weight * content + settings.prior_weight * prior
        loss = loss + settings.offset_weight * offset
        return {"loss": loss, "style": ratio, "content": content, "prior": prior, "offset": offset}, start

    def content_map(self, images: torch.Tensor) -> torch.Tensor:
        return self.content_net(images, (self.content_net.content_layer,))[self.content_net.content_layer]
