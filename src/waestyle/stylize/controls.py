"""The user's controls as operations on latents: style strength and mixing, prior samples, content size.

All of them are cheap: they act on z_s and z_c, not on pixels, so one encoding serves every setting.
"""

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import torch

from waestyle.core.config import ModelConfig
from waestyle.core.errors import WaestyleError
from waestyle.models.wae import content_fill, keep_content_channels


@dataclass
class Style:
    """A style latent with what it came from: the style images as the encoder read them (None for a prior
    sample) and their mixing weights, so that refinement can aim at their statistics. A refined style
    (`Stylizer.refined_style`) also holds its norm offsets: one (1, 2 x channels) per styled decoder layer."""

    latent: torch.Tensor
    sources: list[torch.Tensor | None]
    weights: list[float]
    offsets: list[torch.Tensor] | None = None
    # refinement's target statistics by loss name: a folder run aims every content at them, computed once
    targets: dict[str, dict] = field(default_factory=dict, repr=False, compare=False)
    # what the style head read (z_s, statistics), kept so that a content-sized head can answer again for the
    # content size a transfer asks for (Stylizer.style)
    head_input: tuple[torch.Tensor, torch.Tensor | None] | None = field(default=None, repr=False, compare=False)
    # for a mosaic-filled model (models/mosaic.py): the style picture (its heaviest image, long side at most the
    # working size) whose own content code fills the z_c channels a small content size drops
    picture: torch.Tensor | None = field(default=None, repr=False, compare=False)

    def target(self, loss: str, compute: Callable[[Sequence[torch.Tensor], Sequence[float]], dict]) -> dict:
        """The statistics refinement aims at under `loss`, from `compute(images, weights)` on first use."""
        if loss not in self.targets:
            self.targets[loss] = compute(*zip(*self.refinable(), strict=True))
        return self.targets[loss]

    def refinable(self) -> list[tuple[torch.Tensor, float]]:
        """(image batch, weight) of the parts refinement can aim at: the images, not the prior samples."""
        parts = [(s, w) for s, w in zip(self.sources, self.weights, strict=True) if s is not None and w > 0]
        if not parts:
            raise WaestyleError("refinement needs a style image to aim at; a style drawn from the prior has none")
        return parts


def is_latent(value: object) -> bool:
    """A (B, style_dim) tensor is a z_s; images are (3, H, W) or (B, 3, H, W)."""
    return torch.is_tensor(value) and value.dim() == 2


def mix_latents(latents: Sequence[torch.Tensor], weights: Sequence[float] | None) -> torch.Tensor:
    """One z_s: the latents' weighted mean, `weights` scaled to sum to 1 (None: equal)."""
    if not latents:
        raise WaestyleError("mix_styles needs at least one style")
    weights = [1.0] * len(latents) if weights is None else [float(w) for w in weights]
    if len(weights) != len(latents):
        raise WaestyleError(f"{len(latents)} styles but {len(weights)} weights")
    if min(weights) < 0 or sum(weights) <= 0:
        raise WaestyleError("style weights must be non-negative and not all zero")
    return sum(w / sum(weights) * z for w, z in zip(weights, latents, strict=True))


def prior_style(style_dim: int, seed: int) -> torch.Tensor:
    """A new style drawn from the prior N(0, I): WAE training makes z_s follow it, so samples decode sensibly."""
    return torch.randn(1, style_dim, generator=torch.Generator().manual_seed(seed))


def style_offsets(styles: Sequence[object], strength: float) -> list[list[torch.Tensor] | None]:
    """Each style's norm offsets (a refined `Style`'s; None for others), times `strength`, as its latent's move
    from the content's own z_s is."""
    found = [getattr(style, "offsets", None) for style in styles]
    return [None if offsets is None else [o * strength for o in offsets] for offsets in found]


def resolve_styles(
    z_styles: Sequence[torch.Tensor | None], strength: float, own: Callable[[], torch.Tensor]
) -> list[torch.Tensor]:
    """Each style latent moved from the contents' own z_s (strength 0) to itself (1); None: the own z_s.

    `own()` is called only when needed, since it encodes every content image as a style.
    """
    z_own = own() if strength != 1.0 or any(z is None for z in z_styles) else None
    resolved = []
    for z_style in z_styles:
        if z_style is None:
            z_style = z_own
        elif strength != 1.0:
            z_style = z_style.to(z_own.device)
            start = z_own[:, None] if z_style.dim() == 3 else z_own  # a code per layer: each moves from z_own
            z_style = start + strength * (z_style - start)
        resolved.append(z_style)
    return resolved


def content_size(config: ModelConfig, content_dim: int | None) -> int:
    """How many z_c channels to keep (None: all), checked against the model."""
    full = config.content_dim
    if content_dim is None or content_dim == full:
        return full
    if not 1 <= content_dim <= full:
        raise WaestyleError(f"--content-dim must be between 1 and the model's {full}, got {content_dim}")
    if not config.nested_content:
        raise WaestyleError(
            "this model was trained without --nested-content, so it cannot drop content channels; "
            "train with --nested-content to choose --content-dim at transfer time"
        )
    return content_dim


def keep_content(
    config: ModelConfig, z_content: torch.Tensor, content_dim: int | None, style_code: torch.Tensor | None = None
) -> torch.Tensor:
    """z_c with only its first `content_dim` channels, the rest filled as the model was trained to expect
    (a mosaic-filled model: from `style_code`, the style picture's content code; zeros where there is none)."""
    size = content_size(config, content_dim)
    if size == config.content_dim:
        return z_content
    if config.content_fill == "mosaic" and style_code is None:
        return keep_content_channels(z_content, size)  # a latent or prior style has no picture to draw from
    # A fixed seed: the same content, style and size always give the same image.
    fill = content_fill(config, z_content, torch.Generator().manual_seed(0), style_code)
    return keep_content_channels(z_content, size, fill)
