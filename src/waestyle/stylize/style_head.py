"""A style through the model's style head (models/style_head.py): the style images' statistics, read once in
the head's frozen network, and z_s give each styled layer's code and norm offsets, which decode in one pass on
either backend (as refined ones do)."""

from collections.abc import Sequence

import torch

from waestyle.features.style_statistics import load_style_loss
from waestyle.models.style_head import StyleHead, statistics_vector


class StylePredictor:
    """The head and the network its statistics come from, on one device."""

    def __init__(self, head: StyleHead, device: torch.device):
        self.head = head.to(device).eval()
        stats = load_style_loss(head.loss) if head.statistics_dim else None
        self.stats = None if stats is None else stats.to(device).eval()

    @property
    def content_sized(self) -> bool:
        """Whether the head's answer depends on how much of z_c the transfer keeps."""
        return self.head.content_sized

    @torch.no_grad()
    def statistics(self, parts: Sequence[tuple[torch.Tensor, float]]) -> torch.Tensor | None:
        """What the head reads of the style images `parts` ((image batch, weight) each): a mix reads the weighted
        mean of its images' statistics, as refinement aims at it; None for a head that reads z_s alone."""
        if self.stats is None:
            return None
        total = sum(weight for _, weight in parts)
        vectors = [(weight, statistics_vector(self.stats.statistics(images.float()))) for images, weight in parts]
        return sum(weight / total * vector for weight, vector in vectors)

    @torch.no_grad()
    def __call__(self, latent: torch.Tensor, statistics: torch.Tensor | None, content_size: float = 1.0) -> tuple:
        """(codes (B, layers, d), norm offsets) for the (mixed) z_s `latent` and its images' `statistics`;
        `content_size`: see models.style_head.content_size_input (a content-sized head only)."""
        size = torch.full((len(latent),), content_size, device=latent.device)
        return self.head(latent.float(), statistics, size)
