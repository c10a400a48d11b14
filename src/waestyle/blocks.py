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
        if torch.compiler.is_compiling():
            return fused_instance_norm(x, 1 + scale, shift)
        return self.norm(x) * (1 + scale) + shift


def fused_instance_norm(x: torch.Tensor, gain: torch.Tensor, shift: torch.Tensor, eps: float = 1e-5) -> torch.Tensor:
    """InstanceNorm2d(x) * gain + shift as one multiply-add per element, the statistics from plain fp32 sums.

    Under torch.compile this fuses into two passes over x (sums, then the affine map with whatever follows),
    where InstanceNorm's Welford reduction costs about as much as the convolution before it (bf16, 2 cores).
    """
    xf = x.float()
    mean = xf.mean(dim=(2, 3), keepdim=True)
    var = (xf * xf).mean(dim=(2, 3), keepdim=True) - mean * mean
    a = gain.float() * torch.rsqrt(var.clamp_min(0) + eps)
    return (xf * a + (shift.float() - mean * a)).to(x.dtype)
