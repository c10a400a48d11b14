"""A mosaic of a picture's own content code: the fill that lets a small content size draw the style's shapes.

With `content_fill="mosaic"` the z_c channels a small k drops are filled from the *style* image's content code,
cut into square patches taken from random places and laid overlapping and feathered over the content's grid:
the style's shapes kept whole, their places lost (a copied layout would read as a double exposure). A patch's
side is a share of the grid's shorter side (ModelConfig.mosaic_share, a quarter unless set), so it covers the
same share of a 128-px training crop and of a 512-px picture.
"""

import torch

from waestyle.core.devices import draw_device


def mosaic_patch(height: int, width: int, share: float = 0.25) -> int:
    """Patch side in code pixels for a grid: `share` of its shorter side, at least 2."""
    return max(2, int(min(height, width) * share))


def code_mosaic(
    code: torch.Tensor,
    size: tuple[int, int],
    generator: torch.Generator | None = None,
    patch: int | None = None,
    share: float = 0.25,
) -> torch.Tensor:
    """(N, C, *size) from `code` (N, C, h, w): for each image, feathered half-overlapping crops of its own code.

    The patch side (None) is `share` of `code`'s grid (mosaic_patch), so it is the style picture's scale that
    sets it."""
    n, channels, height, width = code.shape
    patch = min(mosaic_patch(height, width, share) if patch is None else patch, height, width)
    step = max(1, patch // 2)
    ramp = torch.arange(patch, dtype=torch.float32, device=code.device)
    ramp = (torch.minimum(ramp + 1, patch - ramp) / step).clamp(max=1)
    window = (ramp[:, None] * ramp[None]).to(code.dtype)
    rows, cols = size[0] + 2 * patch, size[1] + 2 * patch
    out, weight = code.new_zeros(n, channels, rows, cols), code.new_zeros(rows, cols)
    on = {"generator": generator, "device": draw_device(generator, code.device)}
    batch = torch.arange(n, device=code.device)[:, None, None]
    offsets = torch.arange(patch, device=code.device)
    for y in range(0, size[0] + patch, step):
        for x in range(0, size[1] + patch, step):
            top = torch.randint(0, height - patch + 1, (n,), **on).to(code.device)
            left = torch.randint(0, width - patch + 1, (n,), **on).to(code.device)
            ys, xs = (top[:, None] + offsets)[:, :, None], (left[:, None] + offsets)[:, None, :]
            crops = code.permute(0, 2, 3, 1)[batch, ys, xs].permute(0, 3, 1, 2)  # (N, C, patch, patch)
            out[..., y : y + patch, x : x + patch] += crops * window
            weight[y : y + patch, x : x + patch] += window
    out = out / weight.clamp_min(1e-6)
    return out[..., step : step + size[0], step : step + size[1]]
