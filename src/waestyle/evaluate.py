"""Numbers for how well a model transfers: style and content distances of its outputs.

Measured in the model's own frozen feature network with the same relative distances the
style-consistency loss uses (losses.style_distance, losses.content_distance), on square images
at the model's training size so the Gram statistics of output and style are at one scale.
"""

from collections.abc import Sequence

import torch
from PIL import Image

from waestyle.images import pil_to_tensor, resize_center_crop
from waestyle.losses import content_distance, style_distance
from waestyle.stylize import Stylizer


def square_batch(images: Sequence[Image.Image], size: int) -> torch.Tensor:
    """PIL images resized and centre-cropped to (N, 3, size, size)."""
    return torch.stack([pil_to_tensor(resize_center_crop(image, size)) for image in images])


@torch.no_grad()
def transfer_distances(
    stylizer: Stylizer, contents: torch.Tensor, styles: torch.Tensor, **controls
) -> dict[str, float]:
    """Mean distances over every (content, style) pair of two square batches.

    style: relative Gram distance of the output to the style image (0 = the style's statistics);
    content: relative deep-feature distance of the output to the content image (0 = its content);
    style_before / content_before: the same for the content image itself, i.e. doing nothing,
    the reference a transfer should move away from in style and stay near in content.
    """
    net = stylizer.model.feature_net
    layers = net.style_layers + (net.content_layer,)
    device = stylizer.device
    contents, styles = contents.to(device), styles.to(device)
    content_maps = net(contents, layers)
    totals = {"style": 0.0, "content": 0.0, "style_before": 0.0}
    for style in styles:
        style_maps = {k: v.expand(len(contents), *v.shape[1:]) for k, v in net(style[None], layers).items()}
        outputs = stylizer.transfer(contents, stylizer.style_latent(style[None]), **controls).to(device)
        out_maps = net(outputs, layers)
        totals["style"] += style_distance(out_maps, style_maps, net.style_layers).item()
        totals["content"] += content_distance(out_maps[net.content_layer], content_maps[net.content_layer]).item()
        totals["style_before"] += style_distance(content_maps, style_maps, net.style_layers).item()
    return {name: value / len(styles) for name, value in totals.items()}


@torch.no_grad()
def reconstruction_error(stylizer: Stylizer, images: torch.Tensor, **controls) -> float:
    """Pixel mean squared error of reconstructions of a square batch."""
    images = images.to(stylizer.device)
    return (stylizer.reconstruct(images, **controls).to(stylizer.device) - images).pow(2).mean().item()
