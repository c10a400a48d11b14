"""A seeded batch order that survives resume and shards across torchrun processes."""

from collections.abc import Iterator
from functools import lru_cache

import torch
from torch.utils.data import Sampler

from waestyle.training.distributed import SINGLE, Distributed


@lru_cache(maxsize=4)
def _epoch_order(n_items: int, seed: int, epoch: int) -> torch.Tensor:
    return torch.randperm(n_items, generator=torch.Generator().manual_seed(seed * 100_003 + epoch))


def batch_indices(step: int, batch_size: int, n_items: int, seed: int) -> list[int]:
    """The dataset indices of batch `step`: a fresh seeded permutation per epoch, batches across epochs.

    A pure function of its arguments, so a resumed run sees exactly the batches it would have seen.
    """
    indices, position = [], step * batch_size
    while len(indices) < batch_size:
        epoch, offset = divmod(position, n_items)
        order = _epoch_order(n_items, seed, epoch)
        take = min(batch_size - len(indices), n_items - offset)
        indices += order[offset : offset + take].tolist()
        position += take
    return indices


class StepBatchSampler(Sampler[list[int]]):
    """Yields `batch_indices` for steps start..stop-1, for a DataLoader with workers.

    The distributed sampler too: under torchrun each process takes its own shard of every global
    batch (`place`), so the processes see different images and together exactly one process's batch.
    """

    def __init__(self, n_items: int, batch_size: int, seed: int, start: int, stop: int, place: Distributed = SINGLE):
        self.n_items, self.batch_size, self.seed = n_items, batch_size, seed
        self.start, self.stop, self.place = start, stop, place

    def __iter__(self) -> Iterator[list[int]]:
        for step in range(self.start, self.stop):
            yield self.place.shard(batch_indices(step, self.batch_size, self.n_items, self.seed))

    def __len__(self) -> int:
        return max(0, self.stop - self.start)
