"""Image-quality and style metrics for evaluation; each takes (N, 3, H, W) tensors in [0, 1].

- PSNR and SSIM from scikit-image (the maintained implementations), per image.
- Style and content distances in a *judge* network (losses.style_distance / content_distance), per image.
- Colour distance: sliced Wasserstein-1 between the two images' pixel-colour distributions.
- Texture distance: statistics of a fixed bank of derivative-of-Gaussian filters, no learned network at
  all, so no training loss can have shaped it.
"""

import numpy as np
import torch
import torch.nn.functional as F

from waestyle.core.errors import WaestyleError
from waestyle.features import FeatureNetwork
from waestyle.features.distances import content_distance, style_distance

# PSNR of identical images is infinite; reports cap it here so every number is finite.
PSNR_CAP = 100.0


def _skimage_metrics():
    try:
        from skimage.metrics import peak_signal_noise_ratio, structural_similarity
    except ImportError as err:
        raise WaestyleError("evaluation needs scikit-image: pip install 'waestyle[eval]'") from err
    return peak_signal_noise_ratio, structural_similarity


def _to_numpy(images: torch.Tensor) -> np.ndarray:
    return images.detach().float().clamp(0, 1).permute(0, 2, 3, 1).cpu().numpy().astype(np.float64)


def psnr(outputs: torch.Tensor, targets: torch.Tensor) -> list[float]:
    """Peak signal-to-noise ratio in dB (data range 1), capped at PSNR_CAP, per image."""
    peak_signal_noise_ratio, _ = _skimage_metrics()
    values = []
    for out, target in zip(_to_numpy(outputs), _to_numpy(targets), strict=True):
        if np.array_equal(out, target):
            values.append(PSNR_CAP)
        else:
            values.append(min(PSNR_CAP, float(peak_signal_noise_ratio(target, out, data_range=1.0))))
    return values


def ssim(outputs: torch.Tensor, targets: torch.Tensor) -> list[float]:
    """Structural similarity (Wang et al., 2004; scikit-image, Gaussian-free 7x7 windows), per image."""
    _, structural_similarity = _skimage_metrics()
    pairs = zip(_to_numpy(outputs), _to_numpy(targets), strict=True)
    return [float(structural_similarity(target, out, data_range=1.0, channel_axis=-1)) for out, target in pairs]


def colour_distance(outputs: torch.Tensor, targets: torch.Tensor, projections: int = 64, seed: int = 0) -> list[float]:
    """Sliced Wasserstein-1 distance between pixel-colour clouds (RGB in [0, 1]), per image pair.

    Both clouds are projected on `projections` fixed random unit directions; W1 of two 1-D
    distributions is the mean gap between their quantiles (compared at 256 levels, so image
    sizes may differ), on images area-averaged to at most 128 px. 0 means the same colour distribution,
    whatever the layout.
    """
    directions = torch.randn(projections, 3, generator=torch.Generator().manual_seed(seed))
    directions = directions / directions.norm(dim=1, keepdim=True)
    levels = torch.linspace(0, 1, 256)
    values = []
    # A palette needs no more than 128 x 128 pixels (area-averaged); sorting millions per image is slow.
    outputs, targets = _at_most(outputs.detach().float().cpu(), 128), _at_most(targets.detach().float().cpu(), 128)
    for out, target in zip(outputs, targets, strict=True):
        a, b = (_quantiles(image.reshape(3, -1).T @ directions.T, levels) for image in (out, target))
        values.append((a - b).abs().mean().item())
    return values


def _quantiles(samples: torch.Tensor, levels: torch.Tensor) -> torch.Tensor:
    """Nearest-rank quantiles of each column at `levels` (a sort: far faster than torch.quantile)."""
    ranks = (levels * (len(samples) - 1)).round().long()
    return samples.sort(dim=0).values[ranks]


def _at_most(images: torch.Tensor, side: int) -> torch.Tensor:
    """Images area-averaged down to at most `side` pixels on the long side (unchanged if already smaller)."""
    h, w = images.shape[-2:]
    if max(h, w) <= side:
        return images
    scale = side / max(h, w)
    return F.interpolate(images, size=(max(1, round(h * scale)), max(1, round(w * scale))), mode="area")


@torch.no_grad()
def judge_distances(
    judge: FeatureNetwork, outputs: torch.Tensor, contents: torch.Tensor, styles: torch.Tensor
) -> tuple[list[float], list[float]]:
    """(style distances of outputs to styles, content distances of outputs to contents), per image, in `judge`."""
    layers = judge.style_layers + (judge.content_layer,)
    out_maps, content_maps, style_maps = judge(outputs, layers), judge(contents, layers), judge(styles, layers)
    style_values, content_values = [], []
    for i in range(len(outputs)):
        one = {name: maps[i : i + 1] for name, maps in out_maps.items()}
        target = {name: maps[i : i + 1] for name, maps in style_maps.items()}
        style_values.append(style_distance(one, target, judge.style_layers).item())
        layer = judge.content_layer
        content_values.append(content_distance(one[layer], content_maps[layer][i : i + 1]).item())
    return style_values, content_values


# Derivative-of-Gaussian filters (x, y, xx, yy, xy) at three scales, on luminance: edges, bars and
# corners at 1-4 px widths, the building blocks texture statistics read (Portilla & Simoncelli in spirit).
FILTER_SIGMAS = (1.0, 2.0, 4.0)


def _filter_bank() -> torch.Tensor:
    filters = []
    for sigma in FILTER_SIGMAS:
        radius = int(3 * sigma)
        x = torch.arange(-radius, radius + 1, dtype=torch.float64)
        g = torch.exp(-(x**2) / (2 * sigma**2))
        g = g / g.sum()
        d1 = -x / sigma**2 * g
        d2 = (x**2 / sigma**4 - 1 / sigma**2) * g
        size = 2 * 12 + 1  # every filter padded to the largest support
        for a, b in ((d1, g), (g, d1), (d2, g), (g, d2), (d1, d1)):
            kernel = torch.outer(b, a)
            pad = (size - kernel.shape[0]) // 2
            filters.append(F.pad(kernel, (pad, pad, pad, pad)))
    return torch.stack(filters)[:, None].float()


def texture_statistics(images: torch.Tensor) -> torch.Tensor:
    """(N, 2 * filters + 1): log of the mean |response| and of the standard deviation of each filter's
    response, and of the luminance's standard deviation (contrast), per image."""
    luma = (images.float() * torch.tensor([0.299, 0.587, 0.114]).view(1, 3, 1, 1)).sum(1, keepdim=True)
    flat = F.conv2d(F.pad(luma, (12, 12, 12, 12), mode="reflect"), _filter_bank()).flatten(2)
    return torch.cat([flat.abs().mean(2), flat.std(2), luma.flatten(1).std(1, keepdim=True)], 1).add(1e-4).log()


@torch.no_grad()
def texture_distance(outputs: torch.Tensor, targets: torch.Tensor) -> list[float]:
    """Mean squared log-ratio of filter-bank statistics, per image pair: 0 is the same texture energy in
    every filter; 1 is a factor e (about 2.7) apart on average. Independent of any network."""
    a, b = texture_statistics(outputs.detach().cpu()), texture_statistics(targets.detach().cpu())
    return (a - b).pow(2).mean(1).tolist()


def grey_ssim(outputs: torch.Tensor, targets: torch.Tensor) -> list[float]:
    """SSIM of the luminance only: how much of the content's structure a transfer keeps, whatever its colours."""
    _, structural_similarity = _skimage_metrics()
    weights = np.array([0.299, 0.587, 0.114])
    pairs = zip(_to_numpy(outputs) @ weights, _to_numpy(targets) @ weights, strict=True)
    return [float(structural_similarity(target, out, data_range=1.0)) for out, target in pairs]


@torch.no_grad()
def gram_style_distances(judge: FeatureNetwork, outputs: torch.Tensor, styles: torch.Tensor) -> list[float]:
    """Style distance only, per image, in a second judge network."""
    out_maps, style_maps = judge(outputs, judge.style_layers), judge(styles, judge.style_layers)
    return [
        style_distance({k: v[i : i + 1] for k, v in out_maps.items()}, {k: v[i : i + 1] for k, v in style_maps.items()},
                       judge.style_layers).item()
        for i in range(len(outputs))
    ]  # fmt: skip
