"""Loss terms as pure functions: WAE-MMD, reconstruction, deep features, moments, colours, smoothness."""

import torch
import torch.nn.functional as F

from waestyle.core.devices import draw_device
from waestyle.features.distances import relative_squared_distance

# Kernel bandwidths, as multiples of C = 2 * dim * prior variance (Tolstikhin et al., 2018, sec. 4).
IMQ_SCALES = (0.1, 0.2, 0.5, 1.0, 2.0, 5.0, 10.0)


def imq_mmd(z: torch.Tensor, prior: torch.Tensor, scales: tuple[float, ...] = IMQ_SCALES) -> torch.Tensor:
    """Unbiased MMD² between samples `z` and `prior` (both (N, D)) with inverse-multiquadratic kernels.

    k(x, y) = C / (C + |x - y|²), summed over C = s * 2D for the scales s; the heavy tails keep
    gradients alive for latents far from the prior, which an RBF kernel would not.
    """
    n, dim = z.shape
    if n < 2:
        raise ValueError("MMD needs at least two samples per batch")
    d_zz = torch.cdist(z, z).pow(2)
    d_pp = torch.cdist(prior, prior).pow(2)
    d_zp = torch.cdist(z, prior).pow(2)
    off_diagonal = 1.0 - torch.eye(n, device=z.device, dtype=z.dtype)
    total = z.new_zeros(())
    for scale in scales:
        c = 2.0 * dim * scale
        k_zz = (c / (c + d_zz) * off_diagonal).sum() / (n * (n - 1))
        k_pp = (c / (c + d_pp) * off_diagonal).sum() / (n * (n - 1))
        k_zp = (c / (c + d_zp)).sum() / (n * n)
        total = total + k_zz + k_pp - 2.0 * k_zp
    return total


def reconstruction_loss(
    output: torch.Tensor, target: torch.Tensor, weights: torch.Tensor | None = None
) -> torch.Tensor:
    """Pixel L2: mean squared error over pixels and channels, so it does not grow with image size
    (each image times its entry of `weights`, when given)."""
    if weights is None:
        return F.mse_loss(output, target)
    return ((output - target).pow(2).flatten(1).mean(1) * weights).mean()


def feature_loss(output_maps: dict[str, torch.Tensor], target_maps: dict[str, torch.Tensor]) -> torch.Tensor:
    """Mean squared distance of deep feature maps (the perceptual / content term), averaged over layers."""
    losses = [F.mse_loss(output_maps[name], target_maps[name]) for name in target_maps]
    return torch.stack(losses).mean()


def moment_distance(
    output_maps: dict[str, torch.Tensor], target_maps: dict[str, torch.Tensor], layers: tuple[str, ...]
) -> torch.Tensor:
    """Relative distance of per-channel means and standard deviations (AdaIN's style statistics),
    ||(mu, sigma)(out) - (mu, sigma)(target)||^2 / ||(mu, sigma)(target)||^2, averaged over layers and images."""
    per_layer = []
    for name in layers:
        out, target = (_moments(maps[name]) for maps in (output_maps, target_maps))
        per_layer.append(relative_squared_distance(out, target))
    return torch.stack(per_layer).mean()


def _moments(features: torch.Tensor) -> torch.Tensor:
    flat = features.float().flatten(2)
    return torch.cat([flat.mean(2), (flat.var(2, unbiased=False) + 1e-5).sqrt()], dim=1)


def colour_moment_distance(output: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """Relative distance of pixel-colour means and of colour covariances (each as in `style_distance`),
    averaged: the palette of the image itself, which deep Gram matrices weigh only faintly."""
    out_mean, out_cov = _colour_moments(output)
    target_mean, target_cov = _colour_moments(target)
    per_image = relative_squared_distance(out_mean, target_mean) + relative_squared_distance(out_cov, target_cov)
    return per_image.mean() / 2


def colour_histogram_distance(
    output: torch.Tensor, target: torch.Tensor, generator: torch.Generator | None = None, projections: int = 32
) -> torch.Tensor:
    """Sliced Wasserstein-1 distance of the pixel-colour distributions (Heitz et al., 2021, on colours):
    both pixel clouds projected on `projections` random directions, fresh each call, and the sorted
    projections compared. Matches the whole palette, where means and covariances miss a many-coloured one."""
    directions = torch.randn(3, projections, generator=generator, device=draw_device(generator, output.device))
    directions = directions.to(output.device)
    directions = directions / directions.norm(dim=0, keepdim=True)
    # Same-sized images (a training batch), so the sorted projections align rank for rank.
    out, target = (images.float().flatten(2).transpose(1, 2) @ directions for images in (output, target))
    return (out.sort(dim=1).values - target.sort(dim=1).values).abs().mean()


def _colour_moments(images: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    flat = images.float().flatten(2)
    mean = flat.mean(2)
    centred = flat - mean[..., None]
    return mean, (centred @ centred.transpose(1, 2)).flatten(1) / flat.shape[2]


def total_variation(images: torch.Tensor) -> torch.Tensor:
    """Mean squared difference of neighbouring pixels (both directions): 0 for a flat image."""
    dy = (images[..., 1:, :] - images[..., :-1, :]).pow(2).mean()
    dx = (images[..., :, 1:] - images[..., :, :-1]).pow(2).mean()
    return dx + dy


def latent_samples(z: torch.Tensor, max_samples: int, generator: torch.Generator | None = None) -> torch.Tensor:
    """(N, D) samples for the MMD: a vector latent as is; a spatial map's position vectors, a random
    subset of at most `max_samples` of them (the MMD costs N², and neighbours are alike anyway)."""
    if z.dim() == 2:
        return z
    samples = z.permute(0, 2, 3, 1).reshape(-1, z.shape[1])
    if len(samples) > max_samples:
        picked = torch.randperm(len(samples), generator=generator, device=draw_device(generator, z.device))
        samples = samples[picked[:max_samples].to(z.device)]
    return samples
