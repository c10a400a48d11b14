"""Image-quality and style metrics for evaluation; each takes (N, 3, H, W) tensors in [0, 1].

- PSNR and SSIM from scikit-image (the maintained implementations), per image.
- Style and content distances in a *judge* network (losses.style_distance / content_distance), per image.
- Colour distance: sliced Wasserstein-1 between the two images' pixel-colour distributions.
"""

import numpy as np
import torch

from waestyle.errors import WaestyleError
from waestyle.features import FeatureNetwork
from waestyle.losses import content_distance, style_distance

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
    sizes may differ). 0 means the same colour distribution, whatever the layout.
    """
    directions = torch.randn(projections, 3, generator=torch.Generator().manual_seed(seed))
    directions = directions / directions.norm(dim=1, keepdim=True)
    levels = torch.linspace(0, 1, 256)
    values = []
    for out, target in zip(outputs.detach().float().cpu(), targets.detach().float().cpu(), strict=True):
        a = torch.quantile(out.reshape(3, -1).T @ directions.T, levels, dim=0)
        b = torch.quantile(target.reshape(3, -1).T @ directions.T, levels, dim=0)
        values.append((a - b).abs().mean().item())
    return values


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
