"""Colour preservation (Gatys et al., 2016, "luminance-only transfer") as pure tensor maths.

Keep the stylised image's luminance (where the strokes and texture live) and the content image's
chroma, in BT.601 YCbCr, the colour space JPEG uses.
"""

import torch


def rgb_to_ycbcr(images: torch.Tensor) -> torch.Tensor:
    """(..., 3, H, W) RGB in [0, 1] -> YCbCr with Cb, Cr centred on 0.5."""
    r, g, b = images.unbind(-3)
    y = 0.299 * r + 0.587 * g + 0.114 * b
    return torch.stack([y, 0.5 + 0.564 * (b - y), 0.5 + 0.713 * (r - y)], dim=-3)


def ycbcr_to_rgb(images: torch.Tensor) -> torch.Tensor:
    """The inverse of `rgb_to_ycbcr`, clamped to [0, 1]."""
    y, cb, cr = images.unbind(-3)
    r = y + (cr - 0.5) / 0.713
    b = y + (cb - 0.5) / 0.564
    g = (y - 0.299 * r - 0.114 * b) / 0.587
    return torch.stack([r, g, b], dim=-3).clamp(0, 1)


def preserve_colors(stylised: torch.Tensor, content: torch.Tensor) -> torch.Tensor:
    """The stylised image's luminance with the content's colours; both (..., 3, H, W), same size."""
    luminance = rgb_to_ycbcr(stylised)[..., :1, :, :]
    chroma = rgb_to_ycbcr(content)[..., 1:, :, :]
    return ycbcr_to_rgb(torch.cat([luminance, chroma], dim=-3))
