"""The WAE style model: a content encoder, a Gram-matrix style encoder and a decoder.

image ──content encoder──► z_c ─┐
image ──frozen CNN──► Gram matrices ──StyleEncoder──► z_s ─┴─► decoder ──► image
Transfer decodes z_c of one image with z_s of another. Both latents are pushed towards N(0, I)
by the WAE-MMD penalty (see training/losses.py), which is what makes them interpolable and samplable.
The content encoder and decoder come from the architecture the config names: `global`
(global_arch.py, the research model) or `spatial` (spatial_arch.py, any image size).
"""

import math
from collections.abc import Sequence

import torch
from torch import nn

from waestyle.core.config import ModelConfig
from waestyle.core.devices import draw_device
from waestyle.core.errors import WaestyleError
from waestyle.features import FeatureNetwork, gram
from waestyle.models.global_arch import ContentEncoder, Decoder
from waestyle.models.mosaic import code_mosaic
from waestyle.models.spatial_arch import SpatialContentEncoder, StyleDecoder

ARCHITECTURES = {"global": (ContentEncoder, Decoder), "spatial": (SpatialContentEncoder, StyleDecoder)}


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


class WAEStyleModel(nn.Module):
    """The whole model; the frozen feature network is held but never saved with the weights."""

    def __init__(self, config: ModelConfig, feature_net: FeatureNetwork):
        super().__init__()
        if feature_net.name != config.features:
            raise WaestyleError(f"model expects features {config.features!r}, got {feature_net.name!r}")
        self.config = config
        self.feature_net = feature_net
        encoder, decoder = ARCHITECTURES[config.arch]
        self.content_encoder = encoder(config)
        self.style_encoder = StyleEncoder(config, feature_net)
        self.decoder = decoder(config)
        if config.size_aware:
            # Starts at zero: a size-aware model begins exactly as the size-blind one it may be tuned from.
            self.size_to_style = nn.Linear(1, config.style_dim)
            nn.init.zeros_(self.size_to_style.weight)
            nn.init.zeros_(self.size_to_style.bias)

    def encode_content(self, images: torch.Tensor) -> torch.Tensor:
        """z_c: (B, content_dim) for `global`, (B, content_dim, H/s, W/s) for `spatial`."""
        return self.content_encoder(images)

    def style_features(self, images: torch.Tensor, extra: tuple[str, ...] = ()) -> dict[str, torch.Tensor]:
        """Frozen-CNN maps of the style layers (plus `extra` layers), without gradients."""
        with torch.no_grad():
            return self.feature_net(images, self.feature_net.style_layers + extra)

    def encode_style(self, images: torch.Tensor) -> torch.Tensor:
        return self.style_encoder(self.style_features(images))

    def decode(
        self,
        z_content: torch.Tensor,
        z_style: torch.Tensor,
        content_size: int | torch.Tensor | None = None,
        offsets: Sequence[torch.Tensor] | None = None,
    ) -> torch.Tensor:
        """The image of (z_c, z_s); `content_size` (an int, or one per image; None: all of z_c) is how many
        z_c channels were kept, which only a `size_aware` model reads; `offsets`: a spatial model's norm offsets
        (one per styled layer, see spatial_arch.StyleDecoder), from refinement."""
        if offsets is not None and self.config.arch != "spatial":
            raise WaestyleError("norm offsets need a spatial model")
        if self.config.size_aware:
            full = self.config.content_dim
            size = torch.as_tensor(full if content_size is None else content_size, device=z_style.device)
            code = torch.log2(full / size.to(torch.float32)).reshape(-1, 1).expand(len(z_style), 1)
            shift = self.size_to_style(code.to(self.size_to_style.weight.dtype))
            shift = shift.to(z_style.dtype)
            z_style = z_style + (shift[:, None] if z_style.dim() == 3 else shift)  # a per-layer code: every layer
        return self.decoder(z_content, z_style) if offsets is None else self.decoder(z_content, z_style, offsets)

    def forward(self, images: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """Reconstruction and both latents of a batch."""
        z_content, z_style = self.encode_content(images), self.encode_style(images)
        return self.decode(z_content, z_style), z_content, z_style

    def trainable_state_dict(self) -> dict[str, torch.Tensor]:
        """Weights to save: everything but the frozen feature network, which is loaded from its source."""
        return {k: v for k, v in self.state_dict().items() if not k.startswith("feature_net.")}

    def trainable_parameters(self) -> list[nn.Parameter]:
        return [p for name, p in self.named_parameters() if not name.startswith("feature_net.")]


def keep_content_channels(
    z_content: torch.Tensor, keep: int | torch.Tensor, fill: torch.Tensor | None = None
) -> torch.Tensor:
    """All but the first `keep` channels of z_c (an int, or one count per image) replaced by `fill`'s,
    or zeroed when `fill` is None.

    Zero is the prior's mean, so a dropped channel reads as "no information". A `fill` drawn from the
    prior N(0, I) reads as "anything": the decoder, trained on such draws (`content_fill="prior"`),
    turns them into the style's own texture where the dropped channels would have drawn the content's.
    Works for vector and spatial latents alike.
    """
    keep = torch.as_tensor(keep, device=z_content.device).reshape(-1, 1)
    mask = torch.arange(z_content.shape[1], device=z_content.device)[None] < keep
    mask = mask.reshape(mask.shape + (1,) * (z_content.dim() - 2)).to(z_content.dtype)
    return z_content * mask if fill is None else z_content * mask + fill.to(z_content) * (1 - mask)


def content_fill(
    config: ModelConfig,
    z_content: torch.Tensor,
    generator: torch.Generator | None = None,
    style_code: torch.Tensor | None = None,
) -> torch.Tensor | None:
    """What fills dropped z_c channels for this model: None (zeros), a draw from the prior, or a mosaic of
    `style_code`, the style image's own content code at the picture's scale (models/mosaic.py)."""
    if config.content_fill == "zero":
        return None
    if config.content_fill == "prior":
        return prior_draw(z_content, generator)
    if style_code is None:
        raise WaestyleError("this model fills dropped z_c channels from the style image's code; give a style image")
    style_code = style_code.expand(len(z_content), -1, -1, -1) if len(style_code) == 1 else style_code
    return code_mosaic(style_code, tuple(z_content.shape[-2:]), generator, share=config.mosaic_share)


def prior_draw(like: torch.Tensor, generator: torch.Generator | None = None) -> torch.Tensor:
    """Samples of the prior N(0, I) shaped like `like`, on its device."""
    return torch.randn(like.shape, generator=generator, device=draw_device(generator, like.device)).to(like.device)


def sample_content_sizes(
    batch: int, dim: int, generator: torch.Generator | None = None, device: torch.device | str = "cpu"
) -> torch.Tensor:
    """Nested-dropout prefix lengths, one per image.

    Each image picks an octave [2^j, 2^(j+1)) with j uniform, so every octave of content sizes gets
    the same share (the research compared 512/256/128/64/32); the top octave is the full z_c, so the
    default transfer is trained as often as any size. Half take the octave's lower edge exactly, so
    those sizes are trained as such, and half a point anywhere in it, so is every k between.
    (Extra full-size samples made the order of small sizes less reliable in our checks.)
    """
    octaves, on = int(math.log2(dim)) + 1, {"generator": generator, "device": draw_device(generator, device)}
    low = 2 ** torch.randint(0, octaves, (batch,), **on)
    inside = (low * 2 ** torch.rand(batch, **on)).floor().long()
    edge = torch.rand(batch, **on) < 0.5
    return torch.where(edge, low, inside).clamp(1, dim).to(device)
