"""Small layers shared by both architectures."""

import torch
import torch.nn.functional as F
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

    def forward(self, x: torch.Tensor, z_style: torch.Tensor, offset: torch.Tensor | None = None) -> torch.Tensor:
        """`offset` (B, 2 * channels): added to the scale and shift z_s sets (refinement's norm offsets)."""
        scale, shift = self.scale_shift(z_style, offset)
        if torch.compiler.is_compiling():
            return fused_instance_norm(x, 1 + scale, shift)
        return self.norm(x) * (1 + scale) + shift

    def scale_shift(self, z_style: torch.Tensor, offset: torch.Tensor | None) -> tuple[torch.Tensor, torch.Tensor]:
        modulation = self.to_scale_shift(z_style)
        if offset is not None:
            modulation = modulation + offset.to(modulation.dtype)
        scale, shift = modulation[:, :, None, None].chunk(2, dim=1)
        return scale, shift


class RegionStyleNorm(StyleNorm):
    """StyleNorm whose scale and shift may differ by region: z_s also sets `regions` palettes (per-channel scale
    and shift offsets), and a 1x1 convolution of the normalised map picks, at each pixel, a softmax mix of them.

    Plain conditional norm answers a style with one scale and shift per channel over the whole picture (a
    global tint); with regions, the style can lay its different colours and textures on different kinds of
    content (sky and ground, light and dark). The offsets start at zero, so the layer starts as the StyleNorm it
    extends: a model fine-tuned from one without regions (`--init-from`) starts with the same outputs.
    """

    def __init__(self, channels: int, style_dim: int, regions: int):
        super().__init__(channels, style_dim)
        self.regions = regions
        self.to_region_logits = nn.Conv2d(channels, regions, 1)  # random start: the palettes' gradients differ
        self.to_region_scale_shift = nn.Linear(style_dim, regions * 2 * channels)
        nn.init.zeros_(self.to_region_scale_shift.weight)
        nn.init.zeros_(self.to_region_scale_shift.bias)

    def forward(self, x: torch.Tensor, z_style: torch.Tensor, offset: torch.Tensor | None = None) -> torch.Tensor:
        scale, shift = self.scale_shift(z_style, offset)
        normed = fused_instance_norm(x, torch.ones_like(scale), torch.zeros_like(shift)) if (
            torch.compiler.is_compiling()) else self.norm(x)  # fmt: skip
        mix = self.to_region_logits(normed).softmax(dim=1)  # (B, regions, H, W)
        palettes = self.to_region_scale_shift(z_style).unflatten(1, (self.regions, -1))  # (B, regions, 2C)
        region_scale, region_shift = torch.einsum("bkhw,bkc->bchw", mix, palettes).chunk(2, dim=1)
        return normed * (1 + scale + region_scale) + shift + region_shift


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


def reflect_conv3x3(conv: nn.Conv2d, x: torch.Tensor) -> torch.Tensor:
    """`conv` (3x3, reflect padding 1) on x, as a zero-padded convolution whose one-pixel frame is redone.

    Same values; but no padded full-resolution copy of x is made. At the decoder's last layer (32 channels at
    full resolution) that copy, fused by Inductor with the norm before it, did not vectorise and cost more than
    all the decoder's convolutions together (benchmarks/bench_peer.py). Reflection makes the pad row repeat the
    second row, so a frame output is a 2-tap convolution with the outer taps summed: it reads views of x only.
    """
    # With gradients (training), the plain padded convolution: the frame's eight small convolutions cost more
    # in their backward passes than the copy they avoid (the padded copy only hurt compiled inference).
    if min(x.shape[-2:]) < 3 or torch.is_grad_enabled():  # (or no inner row or column to frame)
        return conv(x)
    weight, bias = conv.weight, conv.bias
    out = F.conv2d(x, weight, bias, padding=1)
    edges = []
    for x_rows, w in ((x[..., :2, :], _fold(weight, 2, first=True)), (x[..., -2:, :], _fold(weight, 2, first=False))):
        corner_first = F.conv2d(x_rows[..., :2], _fold(w, 3, first=True), bias)
        corner_last = F.conv2d(x_rows[..., -2:], _fold(w, 3, first=False), bias)
        edges.append(torch.cat([corner_first, F.conv2d(x_rows, w, bias), corner_last], dim=3))
    left = F.conv2d(x[..., :2], _fold(weight, 3, first=True), bias)
    right = F.conv2d(x[..., -2:], _fold(weight, 3, first=False), bias)
    middle = torch.cat([left, out[..., 1:-1, 1:-1], right], dim=3)
    return torch.cat([edges[0], middle, edges[1]], dim=2)


def _fold(weight: torch.Tensor, dim: int, first: bool) -> torch.Tensor:
    """A 3-tap kernel along `dim` as the 2-tap kernel it becomes at a reflected edge: the outer taps meet."""
    outer = weight.narrow(dim, 0, 1) + weight.narrow(dim, 2, 1)
    centre = weight.narrow(dim, 1, 1)
    return torch.cat([centre, outer] if first else [outer, centre], dim=dim)
