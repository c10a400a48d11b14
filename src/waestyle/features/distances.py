"""Relative distances between deep feature statistics, shared by the training loss and the evaluation metrics."""

import torch

from waestyle.features import gram


def relative_squared_distance(out: torch.Tensor, target: torch.Tensor, floor: float = 0.0) -> torch.Tensor:
    """||out - target||² / ||target||² per row of two (N, D) tensors; with `floor` > 0 each denominator is at
    least `floor` times the rows' median one (the targets are data: no gradient flows through the floor)."""
    norms = target.pow(2).sum(1)
    if floor > 0:
        norms = torch.maximum(norms, floor * norms.detach().median())
    return (out - target).pow(2).sum(1) / norms.clamp_min(1e-8)


def style_distance(
    output_maps: dict[str, torch.Tensor],
    target_maps: dict[str, torch.Tensor],
    layers: tuple[str, ...],
    weights: torch.Tensor | None = None,
) -> torch.Tensor:
    """Relative Gram distance ||G(out) - G(target)||² / ||G(target)||², averaged over layers and images
    (each image times its entry of `weights`, when given).

    Relative, so each layer counts equally whatever its scale and the value reads the same in the
    loss and in evaluation reports: 0 is the target's style, 1 is as far as an all-zero Gram matrix.
    """
    per_layer = []
    for name in layers:
        out, target = gram(output_maps[name]).flatten(1), gram(target_maps[name]).flatten(1)
        per_layer.append(relative_squared_distance(out, target))
    per_image = torch.stack(per_layer).mean(0)
    return (per_image if weights is None else per_image * weights).mean()


def content_distance(
    output_map: torch.Tensor, target_map: torch.Tensor, weights: torch.Tensor | None = None
) -> torch.Tensor:
    """Relative squared distance of deep feature maps, ||F(out) - F(target)||² / ||F(target)||², averaged
    over images (each times its entry of `weights`, when given)."""
    out, target = output_map.flatten(1), target_map.flatten(1)
    per_image = relative_squared_distance(out, target)
    return (per_image if weights is None else per_image * weights).mean()
