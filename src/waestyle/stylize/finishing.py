"""Decoded tensors as the images a user asked for: output size, the photo's fine detail, colours kept."""

import torch
from PIL import Image

from waestyle.data.images import pil_to_tensor, tensor_to_pil
from waestyle.stylize.colors import preserve_colors
from waestyle.stylize.resolution import resize, restore_detail


def finish_image(
    image: Image.Image, decoded: torch.Tensor, size: tuple[int, int], *, spatial: bool, keep_colors: bool
) -> Image.Image:
    """`decoded` (3, h, w), made from content `image`, as a PIL image of `size` (width, height).

    A spatial model's output larger than its working size gets the photo's detail above that size back.
    """
    out = tensor_to_pil(decoded)
    out = out if out.size == size else out.resize(size, Image.Resampling.BICUBIC)
    work_size = tuple(decoded.shape[-2:])
    add_detail = spatial and (size[1] > work_size[0] or size[0] > work_size[1])
    if not (add_detail or keep_colors):
        return out
    content = pil_to_tensor(image.resize(size, Image.Resampling.BICUBIC, reducing_gap=3.0))  # read by both steps
    if add_detail:
        out = tensor_to_pil(restore_detail(pil_to_tensor(out)[None], content[None], work_size)[0])
    if keep_colors:
        out = tensor_to_pil(preserve_colors(pil_to_tensor(out), content))
    return out


def finish_batch(decoded: torch.Tensor, contents: torch.Tensor, *, spatial: bool, keep_colors: bool) -> torch.Tensor:
    """A decoded batch for content tensors (a global model's: the squares it read): a spatial model's at the
    contents' size with their detail back; colours kept if asked; on the CPU."""
    if spatial:
        work_size = tuple(decoded.shape[-2:])
        decoded = restore_detail(resize(decoded, tuple(contents.shape[-2:])), contents, work_size)
    return (preserve_colors(decoded, contents) if keep_colors else decoded).cpu()
