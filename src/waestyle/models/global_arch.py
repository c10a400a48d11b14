"""The research architecture ("global" latents): one content vector and one style vector per image.

image ──ContentEncoder──► z_c (vector) ─┐
                           z_s (vector) ─┴─► Decoder ──► image at the training size
"""

import torch
from torch import nn

from waestyle.core.config import ModelConfig
from waestyle.models.blocks import group_norm


class ContentEncoder(nn.Module):
    """Strided convolutions down to 4x4, then a linear map to the content latent z_c."""

    def __init__(self, config: ModelConfig):
        super().__init__()
        layers, c_in = [], 3
        for width in config.widths():
            layers += [nn.Conv2d(c_in, width, 4, stride=2, padding=1), group_norm(width), nn.LeakyReLU(0.2)]
            c_in = width
        self.convs = nn.Sequential(*layers)
        self.to_latent = nn.Linear(c_in * 16, config.content_dim)

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        return self.to_latent(self.convs(images).flatten(1))


class Decoder(nn.Module):
    """(z_c, z_s) -> 4x4 map -> nearest-neighbour upsampling + convolutions -> image in [0, 1]."""

    def __init__(self, config: ModelConfig):
        super().__init__()
        widths = config.widths()[::-1]
        self.bottleneck = widths[0]
        self.from_latent = nn.Linear(config.content_dim + config.style_dim, widths[0] * 16)
        layers, c_in = [], widths[0]
        for width in widths[1:] + [config.base_channels]:
            layers += [
                nn.Upsample(scale_factor=2, mode="nearest"),
                nn.Conv2d(c_in, width, 3, padding=1),
                group_norm(width),
                nn.LeakyReLU(0.2),
            ]
            c_in = width
        self.convs = nn.Sequential(*layers)
        self.to_rgb = nn.Conv2d(c_in, 3, 3, padding=1)

    def forward(self, z_content: torch.Tensor, z_style: torch.Tensor) -> torch.Tensor:
        h = self.from_latent(torch.cat([z_content, z_style], dim=1)).view(-1, self.bottleneck, 4, 4)
        return torch.sigmoid(self.to_rgb(self.convs(h)))
