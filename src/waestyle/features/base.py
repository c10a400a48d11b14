"""What every frozen feature network offers, and the Gram matrix computed from its maps."""

import torch
from torch import nn


def gram(features: torch.Tensor) -> torch.Tensor:
    """Channel correlations of a (B, C, H, W) map, divided by the number of positions H*W."""
    b, c, h, w = features.shape
    flat = features.reshape(b, c, h * w)
    return flat @ flat.transpose(1, 2) / (h * w)


class FeatureNetwork(nn.Module):
    """A frozen CNN: `forward(images, layers)` returns the named maps; weights never train."""

    name: str
    style_layers: tuple[str, ...]
    content_layer: str
    channels: dict[str, int]

    def freeze(self) -> "FeatureNetwork":
        self.eval()
        for p in self.parameters():
            p.requires_grad_(False)
        return self

    def train(self, mode: bool = True) -> "FeatureNetwork":
        # Batch-norm statistics are ImageNet's: the network stays in eval mode whatever its parent does.
        return super().train(False)

    def normalize(self, images: torch.Tensor) -> torch.Tensor:
        raise NotImplementedError

    def forward(self, images: torch.Tensor, layers: tuple[str, ...]) -> dict[str, torch.Tensor]:
        raise NotImplementedError
