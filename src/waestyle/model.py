"""The research architecture: content encoder, Gram-matrix style encoder, decoder ("global" latents).

image ──ContentEncoder──► z_c ─┐
image ──frozen CNN──► Gram matrices ──StyleEncoder──► z_s ─┴─► Decoder ──► image
Transfer decodes z_c of one image with z_s of another. Both latents are pushed towards N(0, I)
by the WAE-MMD penalty (see losses.py), which is what makes them interpolable and samplable.
"""

import torch
from torch import nn

from waestyle.config import ModelConfig
from waestyle.errors import WaestyleError
from waestyle.features import FeatureNetwork, gram


def _norm(channels: int) -> nn.GroupNorm:
    # Group norm, not batch norm: behaves the same for a batch of one at transfer time.
    return nn.GroupNorm(min(8, channels), channels)


class ContentEncoder(nn.Module):
    """Strided convolutions down to 4x4, then a linear map to the content latent z_c."""

    def __init__(self, config: ModelConfig):
        super().__init__()
        layers, c_in = [], 3
        for width in config.widths():
            layers += [nn.Conv2d(c_in, width, 4, stride=2, padding=1), _norm(width), nn.LeakyReLU(0.2)]
            c_in = width
        self.convs = nn.Sequential(*layers)
        self.to_latent = nn.Linear(c_in * 16, config.content_dim)

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        return self.to_latent(self.convs(images).flatten(1))


class StyleEncoder(nn.Module):
    """Gram matrices of the frozen CNN's style layers -> per-layer projection -> MLP -> z_s."""

    def __init__(self, config: ModelConfig, feature_net: FeatureNetwork):
        super().__init__()
        self.layers = feature_net.style_layers
        self.projections = nn.ModuleList()
        for name in self.layers:
            channels = feature_net.channels[name]
            rows, cols = torch.triu_indices(channels, channels)
            # A Gram matrix is symmetric: the upper triangle holds all of it.
            self.register_buffer(f"triu_{name}", rows * channels + cols, persistent=False)
            self.projections.append(nn.Linear(len(rows), config.style_hidden))
        hidden = config.style_hidden
        self.mlp = nn.Sequential(
            nn.SiLU(), nn.Linear(hidden * len(self.layers), hidden), nn.SiLU(), nn.Linear(hidden, config.style_dim)
        )

    def forward(self, feature_maps: dict[str, torch.Tensor]) -> torch.Tensor:
        parts = []
        for name, projection in zip(self.layers, self.projections, strict=True):
            g = gram(feature_maps[name]).flatten(1)[:, getattr(self, f"triu_{name}")]
            # Signed log keeps the overall energy (a style cue) while taming its range across layers.
            parts.append(projection(torch.sign(g) * torch.log1p(g.abs())))
        return self.mlp(torch.cat(parts, dim=1))


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
                _norm(width),
                nn.LeakyReLU(0.2),
            ]
            c_in = width
        self.convs = nn.Sequential(*layers)
        self.to_rgb = nn.Conv2d(c_in, 3, 3, padding=1)

    def forward(self, z_content: torch.Tensor, z_style: torch.Tensor) -> torch.Tensor:
        h = self.from_latent(torch.cat([z_content, z_style], dim=1)).view(-1, self.bottleneck, 4, 4)
        return torch.sigmoid(self.to_rgb(self.convs(h)))


class WAEStyleModel(nn.Module):
    """The whole model; the frozen feature network is held but never saved with the weights."""

    def __init__(self, config: ModelConfig, feature_net: FeatureNetwork):
        super().__init__()
        if feature_net.name != config.features:
            raise WaestyleError(f"model expects features {config.features!r}, got {feature_net.name!r}")
        self.config = config
        self.feature_net = feature_net
        self.content_encoder = ContentEncoder(config)
        self.style_encoder = StyleEncoder(config, feature_net)
        self.decoder = Decoder(config)

    def encode_content(self, images: torch.Tensor) -> torch.Tensor:
        return self.content_encoder(images)

    def encode_style(self, images: torch.Tensor) -> torch.Tensor:
        return self.style_encoder(self.feature_net(images, self.feature_net.style_layers))

    def decode(self, z_content: torch.Tensor, z_style: torch.Tensor) -> torch.Tensor:
        return self.decoder(z_content, z_style)

    def forward(self, images: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """Reconstruction and both latents of a batch."""
        z_content, z_style = self.encode_content(images), self.encode_style(images)
        return self.decode(z_content, z_style), z_content, z_style

    def trainable_state_dict(self) -> dict[str, torch.Tensor]:
        """Weights to save: everything but the frozen feature network, which is loaded from its source."""
        return {k: v for k, v in self.state_dict().items() if not k.startswith("feature_net.")}

    def trainable_parameters(self) -> list[nn.Parameter]:
        return [p for name, p in self.named_parameters() if not name.startswith("feature_net.")]
