"""The training set held once on the device, every batch cut and augmented there (`train --device-data`).

On a GPU, decoding and resizing on the host caps a step at a few hundred images a second; thousands of
images fit in a few GB of GPU memory as uint8, and a batch is then an index draw, one `grid_sample` (a
random square of random scale, flipped half the time, resized to the crop) and a colour jitter, all on the
device. Draws depend on the seed and the step alone, so a resumed run sees the batches an uninterrupted one
would, and each process takes its own share of the same global batch.

The jitter follows Magenta's arbitrary-style training (brightness, saturation, hue), milder, since the same
images serve as contents: their reconstruction must stay a photograph.
"""

import math

import torch
import torch.nn.functional as F
from torch.utils.data import DataLoader, Dataset
from tqdm import tqdm

from waestyle.training.distributed import Distributed

# Stored side over crop side: crops cover 1/1.5 to all of a stored image's side (scale augmentation).
STORED_SCALE = 1.5
BRIGHTNESS, SATURATION, HUE = 0.1, (0.7, 1.3), 0.08  # additive; multiplicative range; turns of the colour wheel


def stored_side(image_size: int) -> int:
    return int(math.ceil(image_size * STORED_SCALE / 8) * 8)


def load_to_device(dataset: Dataset, device: torch.device, workers: int = 0, progress: bool = True) -> torch.Tensor:
    """Every image of `dataset` ((3, S, S) floats in [0, 1]) as one (N, 3, S, S) uint8 tensor on `device`."""
    loader = DataLoader(dataset, batch_size=64, num_workers=workers)
    parts = [(batch * 255).round().to(torch.uint8) for batch in tqdm(loader, desc="data to device", unit="batch",
                                                                      disable=not progress)]  # fmt: skip
    return torch.cat(parts).to(device)


class DeviceBatches:
    """Iterable of this process's share of each step's batch, from `start_step` to `steps`."""

    def __init__(self, images: torch.Tensor, image_size: int, batch_size: int, seed: int, start_step: int,
                 steps: int, place: Distributed, augment: bool = True):  # fmt: skip
        self.images, self.image_size, self.batch_size = images, image_size, batch_size
        self.seed, self.start_step, self.steps, self.place, self.augment = seed, start_step, steps, place, augment

    def __len__(self) -> int:
        return self.steps - self.start_step

    def __iter__(self):
        for step in range(self.start_step, self.steps):
            yield self.batch(step)

    def batch(self, step: int) -> torch.Tensor:
        """(B / world size, 3, crop, crop) floats in [0, 1] for `step`."""
        # Drawn where the images are: a draw on the host and a copy to a GPU would wait for the GPU each step.
        device = self.images.device
        generator = torch.Generator(device=device).manual_seed(self.seed * 1_000_003 + step + 17)
        count, on = self.batch_size, {"generator": generator, "device": device}
        draws = {
            "index": torch.randint(len(self.images), (count,), **on),
            "scale": torch.empty(count, device=device).uniform_(1 / STORED_SCALE, 1.0, generator=generator),
            "centre": torch.rand(count, 2, **on),
            "flip": torch.rand(count, **on) < 0.5,
            "brightness": torch.empty(count, device=device).uniform_(-BRIGHTNESS, BRIGHTNESS, generator=generator),
            "saturation": torch.empty(count, device=device).uniform_(*SATURATION, generator=generator),
            "hue": torch.empty(count, device=device).uniform_(-HUE, HUE, generator=generator),
        }
        draws = {name: self.place.shard(value) for name, value in draws.items()}
        images = self.images[draws["index"]].float() / 255
        if not self.augment:
            return F.interpolate(images, size=(self.image_size,) * 2, mode="bilinear", antialias=True)
        images = crop_and_flip(images, self.image_size, draws["scale"], draws["centre"], draws["flip"])
        return jitter(images, draws["brightness"], draws["saturation"], draws["hue"])


def crop_and_flip(images: torch.Tensor, size: int, scale: torch.Tensor, centre: torch.Tensor,
                  flip: torch.Tensor) -> torch.Tensor:  # fmt: skip
    """A square of side `scale` (of the image's side) at a random place, mirrored where `flip`, resized to `size`."""
    count = len(images)
    # In grid_sample's [-1, 1] coordinates: the square spans 2 * scale, its centre free within what is left.
    offset = (centre * 2 - 1) * (1 - scale)[:, None]
    theta = torch.zeros(count, 2, 3, device=images.device)
    theta[:, 0, 0] = scale * torch.where(flip, -1.0, 1.0)
    theta[:, 1, 1] = scale
    theta[:, :, 2] = offset
    grid = F.affine_grid(theta, [count, 3, size, size], align_corners=False)
    return F.grid_sample(images, grid, mode="bilinear", padding_mode="reflection", align_corners=False)


def jitter(images: torch.Tensor, brightness: torch.Tensor, saturation: torch.Tensor, hue: torch.Tensor) -> torch.Tensor:
    """Hue turned in YIQ space, saturation scaled about the grey, brightness shifted; clamped to [0, 1]."""
    to_yiq = torch.tensor([[0.299, 0.587, 0.114], [0.596, -0.274, -0.322], [0.211, -0.523, 0.312]],
                          device=images.device)  # fmt: skip
    angle = hue * 2 * math.pi
    cos, sin = angle.cos(), angle.sin()
    # Per image: rotate I and Q by the hue angle, scale them by the saturation, keep Y.
    mix = torch.zeros(len(images), 3, 3, device=images.device)
    mix[:, 0, 0] = 1.0
    mix[:, 1, 1], mix[:, 1, 2] = cos * saturation, -sin * saturation
    mix[:, 2, 1], mix[:, 2, 2] = sin * saturation, cos * saturation
    transform = torch.linalg.inv(to_yiq) @ mix @ to_yiq  # (B, 3, 3) in RGB
    out = torch.einsum("bij,bjhw->bihw", transform, images) + brightness.view(-1, 1, 1, 1)
    return out.clamp(0, 1)
