"""Resolution handling for fully convolutional models: the texture scale and detail at any size.

A spatial model draws texture with a fixed size in pixels (its receptive field, set by the training
crops). Run on a 4000-px photo at its own size, that texture shrinks to a fine grain and the result looks
like the photo with a tint. So a content image is stylised at a *working size*, `WORK_SIDE / style_scale`
pixels on its long side (512 for the default scale 1, the scale the default model was trained for), and
the result is resized to the output size. Where the output is larger than the working size, the photo's
own fine detail (its luminance above the working size's resolution) is added back, so a large output
looks like the 512-px result, only sharper.
"""

import torch
import torch.nn.functional as F

from waestyle.core.errors import WaestyleError

WORK_SIDE = 512
# ITU-R BT.601 luma weights, as colors.preserve_colors uses.
LUMA = (0.299, 0.587, 0.114)


def work_long_side(style_scale: float, max_side: int) -> int:
    """The long side at which a content image is stylised: larger `style_scale`, larger texture."""
    if not 0.1 <= style_scale <= 10:
        raise WaestyleError(f"--style-scale must be from 0.1 to 10, got {style_scale}")
    return max(16, min(max_side, round(WORK_SIDE / style_scale)))


def scaled_size(size: tuple[int, int], long_side: int) -> tuple[int, int]:
    """(height, width) of a (height, width) `size` with its long side set to `long_side`."""
    scale = long_side / max(size)
    return max(1, round(size[0] * scale)), max(1, round(size[1] * scale))


def resize(batch: torch.Tensor, size: tuple[int, int]) -> torch.Tensor:
    """Bicubic resize of a (B, 3, H, W) batch in [0, 1], antialiased when shrinking."""
    if tuple(batch.shape[-2:]) == tuple(size):
        return batch
    shrink = size[0] < batch.shape[-2] or size[1] < batch.shape[-1]
    return F.interpolate(batch, size=size, mode="bicubic", align_corners=False, antialias=shrink).clamp(0, 1)


def restore_detail(output: torch.Tensor, content: torch.Tensor, work_size: tuple[int, int]) -> torch.Tensor:
    """`output` (already at the content's size) plus the content's luminance detail finer than `work_size`.

    The detail is what a downscale to the working size removed: luma(content) - luma(up(down(content))).
    Only luminance is added, so the style's colours stay; nothing is added when the output is not
    larger than the working size.
    """
    if content.shape[-2] <= work_size[0] and content.shape[-1] <= work_size[1]:
        return output
    weights = torch.tensor(LUMA, device=content.device, dtype=content.dtype).view(1, 3, 1, 1)
    luma = (content * weights).sum(1, keepdim=True)
    coarse = resize(resize(luma, work_size), tuple(content.shape[-2:]))
    return (output + (luma - coarse)).clamp(0, 1)
