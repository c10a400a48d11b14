"""The fully convolutional architecture ("spatial" latents): works on images of any size.

image ──SpatialContentEncoder──► z_c: a (content_dim, H/s, W/s) map, s = content_stride ─┐
                                 z_s: a global vector, scales and shifts every decoder layer ─┴─►
StyleDecoder ──► image of size (H, W)

The encoder has no normalisation at all, so z_c at a position depends only on the pixels in its
receptive field: a 1024-px photo gets the same local codes as the training crops did. The decoder
uses conditional instance norm (see blocks.StyleNorm), so the style sets every layer's statistics; with
`style_regions` > 1 (blocks.RegionStyleNorm) it sets them per kind of region, not once for the whole picture.
"""

from collections.abc import Sequence

import torch
import torch.nn.functional as F
from torch import nn

from waestyle.core.config import ModelConfig
from waestyle.models.blocks import RegionStyleNorm, StyleNorm, reflect_conv3x3


class SpatialContentEncoder(nn.Module):
    """3x3 stem, then one stride-2 convolution per halving, then a 1x1 map to content_dim channels."""

    def __init__(self, config: ModelConfig):
        super().__init__()
        layers = [nn.Conv2d(3, config.base_channels, 3, padding=1, padding_mode="reflect"), nn.LeakyReLU(0.2)]
        c_in = config.base_channels
        for width in config.widths():
            layers += [nn.Conv2d(c_in, width, 4, stride=2, padding=1, padding_mode="reflect"), nn.LeakyReLU(0.2)]
            c_in = width
        self.convs = nn.Sequential(*layers)
        self.to_latent = nn.Conv2d(c_in, config.content_dim, 1)

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        return self.to_latent(self.convs(images))


class StyledConv(nn.Module):
    """(optional 2x upsampling, nearest or bilinear) -> 3x3 conv -> style-conditioned instance norm -> LeakyReLU."""

    def __init__(self, c_in: int, c_out: int, style_dim: int, upsample: str | None = None, activate: bool = True,
                 regions: int = 1):  # fmt: skip
        super().__init__()
        self.upsample, self.activate = upsample, activate
        self.conv = nn.Conv2d(c_in, c_out, 3, padding=1, padding_mode="reflect")
        self.norm = RegionStyleNorm(c_out, style_dim, regions) if regions > 1 else StyleNorm(c_out, style_dim)

    def forward(self, x: torch.Tensor, z_style: torch.Tensor, offset: torch.Tensor | None = None) -> torch.Tensor:
        if self.upsample:
            x = F.interpolate(x, scale_factor=2.0, mode=self.upsample)
        x = self.norm(self.conv(x), z_style, offset)
        return F.leaky_relu(x, 0.2) if self.activate else x


class StyleDecoder(nn.Module):
    """z_c map -> styled conv + `res_blocks` residual blocks at the bottleneck -> styled upsampling convs -> RGB."""

    def __init__(self, config: ModelConfig):
        super().__init__()
        widths, style_dim, regions = config.widths()[::-1], config.style_dim, config.style_regions
        self.from_latent = StyledConv(config.content_dim, widths[0], style_dim, regions=regions)
        # Two convolutions per block, flat in one list (so one-block models keep their weight names).
        self.residual = nn.ModuleList()
        for _ in range(config.res_blocks):
            self.residual.append(StyledConv(widths[0], widths[0], style_dim, regions=regions))
            self.residual.append(StyledConv(widths[0], widths[0], style_dim, activate=False, regions=regions))
        self.ups = nn.ModuleList()
        c_in = widths[0]
        for width in widths[1:] + [config.base_channels]:
            self.ups.append(StyledConv(c_in, width, style_dim, upsample=config.upsample, regions=regions))
            c_in = width
        self.to_rgb = nn.Conv2d(c_in, 3, 3, padding=1, padding_mode="reflect")

    @property
    def styled_layers(self) -> int:
        """How many layers read z_s: the length of a per-layer code."""
        return 1 + len(self.residual) + len(self.ups)

    def modulation_sizes(self) -> list[int]:
        """Each styled layer's scale-and-shift length (2 x its channels), in order: the shapes of norm offsets."""
        layers = [self.from_latent, *self.residual, *self.ups]
        return [layer.norm.to_scale_shift.out_features for layer in layers]

    def forward(self, z_content: torch.Tensor, z_style: torch.Tensor,
                offsets: Sequence[torch.Tensor] | None = None) -> torch.Tensor:  # fmt: skip
        """z_style: (B, style_dim), or (B, styled_layers, style_dim), one code per layer (StyleGAN's W+), which
        refinement can search (stylize/refine.py); `offsets`: one (B, 2 x channels) per styled layer, added to
        the scale and shift the codes set (refinement's norm offsets; `modulation_sizes`)."""
        codes = iter(z_style.unbind(1) if z_style.dim() == 3 else [z_style] * self.styled_layers)
        extra = iter(offsets if offsets is not None else [None] * self.styled_layers)
        h = self.from_latent(z_content, next(codes), next(extra))
        for first, second in zip(self.residual[::2], self.residual[1::2], strict=True):
            h = F.leaky_relu(h + second(first(h, next(codes), next(extra)), next(codes), next(extra)), 0.2)
        for layer in self.ups:
            h = layer(h, next(codes), next(extra))
        return torch.sigmoid(reflect_conv3x3(self.to_rgb, h))
