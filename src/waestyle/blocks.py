"""Small layers shared by both architectures."""

import torch
from torch import nn


def group_norm(channels: int) -> nn.GroupNorm:
    """Group norm, not batch norm: behaves the same for a batch of one at transfer time."""
    return nn.GroupNorm(min(8, channels), channels)


class StyleNorm(nn.Module):
    """Conditional instance norm (Dumoulin et al., 2017): normalise each map, then scale and shift it by z_s.

    Statistics are per image and per channel, so the layer works at any resolution, and the style
    decides the output's feature statistics, which is what Gram matrices (and AdaIN) measure.
    """

    def __init__(self, channels: int, style_dim: int):
        super().__init__()
        self.norm = nn.InstanceNorm2d(channels, affine=False)
        self.to_scale_shift = nn.Linear(style_dim, 2 * channels)
        # Start as plain instance norm: scale 1, shift 0, whatever z_s is.
        nn.init.zeros_(self.to_scale_shift.weight)
        nn.init.zeros_(self.to_scale_shift.bias)

    def forward(self, x: torch.Tensor, z_style: torch.Tensor) -> torch.Tensor:
        scale, shift = self.to_scale_shift(z_style)[:, :, None, None].chunk(2, dim=1)
        return self.norm(x) * (1 + scale) + shift
