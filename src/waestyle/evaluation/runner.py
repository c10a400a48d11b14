"""Numbers for how well models transfer and reconstruct.

`transfer_distances` / `reconstruction_error`: quick checks in the model's own feature network
(used by benchmarks/style_consistency.py). `run_evaluation`: the full comparison behind
`waestyle evaluate`: every method (methods.py) on every (content, style) pair of square images, with
PSNR / SSIM of reconstructions, and style, content and colour distances of transfers measured in a
judge network the models were not trained with (metrics.py).
"""

import time
from collections.abc import Sequence
from dataclasses import dataclass, field

import torch
from PIL import Image
from tqdm import tqdm

from waestyle.data.images import pil_to_tensor, resize_center_crop
from waestyle.evaluation.metrics import (
    colour_distance,
    gram_style_distances,
    grey_ssim,
    judge_distances,
    psnr,
    ssim,
    texture_distance,
)
from waestyle.features import FeatureNetwork
from waestyle.stylize.stylizer import Stylizer


def square_batch(images: Sequence[Image.Image], size: int) -> torch.Tensor:
    """PIL images resized and centre-cropped to (N, 3, size, size)."""
    return torch.stack([pil_to_tensor(resize_center_crop(image, size)) for image in images])


@torch.no_grad()
def transfer_distances(
    stylizer: Stylizer, contents: torch.Tensor, styles: torch.Tensor, **controls
) -> dict[str, float]:
    """Mean distances over every (content, style) pair of two square batches, in the model's own network.

    style: relative Gram distance of the output to the style image (0 = the style's statistics);
    content: relative deep-feature distance of the output to the content image (0 = its content);
    style_before: the style distance of the content image itself, i.e. of doing nothing, the
    reference a transfer should move away from (its content distance is 0 by definition).
    """
    net, device = stylizer.model.feature_net, stylizer.device
    contents, styles = contents.to(device), styles.to(device)
    values: dict[str, list[float]] = {"style": [], "content": [], "style_before": []}
    for style in styles:
        expanded = style[None].expand_as(contents)
        outputs = stylizer.transfer(contents, stylizer.style(style[None]), **controls).to(device)
        style_values, content_values = judge_distances(net, outputs, contents, expanded)
        values["style"] += style_values
        values["content"] += content_values
        values["style_before"] += judge_distances(net, contents, contents, expanded)[0]
    return {name: sum(v) / len(v) for name, v in values.items()}


@torch.no_grad()
def reconstruction_error(stylizer: Stylizer, images: torch.Tensor, **controls) -> float:
    """Pixel mean squared error of reconstructions of a square batch."""
    images = images.to(stylizer.device)
    return (stylizer.reconstruct(images, **controls).to(stylizer.device) - images).pow(2).mean().item()


@dataclass
class Evaluation:
    """One row per (method, content image) for reconstruction and per (method, pair) for transfer,
    plus the outputs of the first pairs, for grids."""

    rows: list[dict] = field(default_factory=list)
    grid_outputs: dict[str, torch.Tensor] = field(default_factory=dict)
    grid_reconstructions: dict[str, torch.Tensor] = field(default_factory=dict)
    device: str = "cpu"


@torch.no_grad()
def run_evaluation(
    methods: Sequence,
    contents: torch.Tensor,
    styles: torch.Tensor,
    content_names: Sequence[str],
    style_names: Sequence[str],
    judge: FeatureNetwork,
    *,
    grid_pairs: int = 4,
    progress: bool = True,
    second_judge: FeatureNetwork | None = None,
) -> Evaluation:
    """Every method on every (content, style) pair of two square batches, measured by `judge`, by the
    filter-bank texture distance, and (when given) by the style distance in `second_judge`."""
    result = Evaluation(device=str(contents.device))
    with tqdm(total=len(methods) * (len(styles) + 1), disable=not progress, unit="pass", desc="evaluate") as bar:
        for method in methods:
            base = {"method": method.name, "content_dim": method.content_dim}
            if getattr(method, "kernels", None):  # the peer's output depends on the CPU's int8 kernels
                base["kernels"] = method.kernels
            started = time.perf_counter()
            rebuilt = method.reconstruct(contents)
            seconds = (time.perf_counter() - started) / len(contents)
            if rebuilt is not None:
                result.grid_reconstructions[method.name] = rebuilt[:grid_pairs].cpu()
                for name, p, s in zip(content_names, psnr(rebuilt, contents), ssim(rebuilt, contents), strict=True):
                    result.rows.append({**base, "kind": "reconstruction", "content": name, "psnr": p, "ssim": s,
                                        "seconds_per_image": seconds})  # fmt: skip
            bar.update(1)
            firsts = []
            for style_name, style in zip(style_names, styles, strict=True):
                started = time.perf_counter()
                with torch.enable_grad():  # optimisation baselines need gradients; models ignore them
                    outputs = method.transfer(contents, style[None])
                seconds = (time.perf_counter() - started) / len(contents)
                expanded = style[None].expand_as(contents)
                style_d, content_d = judge_distances(judge, outputs, contents, expanded)
                extra = {
                    "colour_distance": colour_distance(outputs, expanded),
                    "texture_distance": texture_distance(outputs, expanded),
                    "grey_ssim": grey_ssim(outputs, contents),
                    "style_ssim": grey_ssim(outputs, expanded),
                }
                if second_judge is not None:
                    extra["style_distance_2"] = gram_style_distances(second_judge, outputs, expanded)
                for i, name in enumerate(content_names):
                    result.rows.append({**base, "kind": "transfer", "content": name, "style": style_name,
                                        "style_distance": style_d[i], "content_distance": content_d[i],
                                        **{key: values[i] for key, values in extra.items()},
                                        "seconds_per_image": seconds})  # fmt: skip
                firsts.append(outputs[len(firsts) % len(outputs)])
                bar.update(1)
            result.grid_outputs[method.name] = torch.stack(firsts[:grid_pairs]).cpu()
    return result
