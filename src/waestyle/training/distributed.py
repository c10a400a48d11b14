"""Data-parallel training under torchrun: process group, batch shards and batch-wide tensors.

`--batch-size` is the *global* batch: each of the W processes takes its own 1/W of every batch.
The loss is written so that W processes compute exactly the gradients of one process on the whole
batch: per-image terms are means over the local shard (DDP averages them), and the terms that
couple images — the MMD against the prior and the style swap's neighbour — see the whole batch
through `gather`, whose backward sums gradients back to the process that owns each row.
"""

import os
from dataclasses import dataclass

import torch
import torch.distributed as dist

from waestyle.core.errors import WaestyleError


@dataclass(frozen=True)
class Distributed:
    """This process's place among the training processes (world_size 1: no torchrun)."""

    rank: int = 0
    world_size: int = 1
    local_rank: int = 0

    @property
    def is_main(self) -> bool:
        """Only the main process logs, writes samples and checkpoints."""
        return self.rank == 0

    def gather(self, tensor: torch.Tensor) -> torch.Tensor:
        """The whole batch: every process's rows in rank order; gradients flow back to their owners."""
        if self.world_size == 1:
            return tensor
        if tensor.requires_grad:
            return _GatherRows.apply(tensor, self.world_size, self.rank)
        return _all_gather(tensor, self.world_size)

    def shard(self, batch: torch.Tensor | list) -> torch.Tensor | list:
        """This process's rows of a whole-batch tensor or list."""
        size = len(batch) // self.world_size
        return batch[self.rank * size : (self.rank + 1) * size]

    def mean(self, values: dict[str, float]) -> dict[str, float]:
        """Loss terms averaged over processes (for logging: the whole batch's values)."""
        if self.world_size == 1:
            return values
        names = sorted(values)
        packed = torch.tensor([values[n] for n in names], dtype=torch.float64)
        dist.all_reduce(packed)
        return {n: v / self.world_size for n, v in zip(names, packed.tolist(), strict=True)}


SINGLE = Distributed()


def _all_gather(tensor: torch.Tensor, world_size: int) -> torch.Tensor:
    parts = [torch.empty_like(tensor) for _ in range(world_size)]
    dist.all_gather(parts, tensor.contiguous())
    return torch.cat(parts)


class _GatherRows(torch.autograd.Function):
    """All processes' rows, concatenated; backward hands each process the summed gradient of its rows.

    Every process's loss uses every row, so a row's gradient is the sum over processes (DDP then
    averages parameter gradients, which gives back the one-process gradient). The sum is an
    all-reduce of a contiguous tensor: gradients of permuted views are not contiguous, and some
    backends' all-to-all reads those wrongly.
    """

    @staticmethod
    def forward(ctx, tensor: torch.Tensor, world_size: int, rank: int) -> torch.Tensor:
        ctx.rank, ctx.rows = rank, len(tensor)
        return _all_gather(tensor, world_size)

    @staticmethod
    def backward(ctx, grad: torch.Tensor):
        grad = grad.contiguous()
        dist.all_reduce(grad)
        return grad[ctx.rank * ctx.rows : (ctx.rank + 1) * ctx.rows], None, None


def setup_distributed(device: torch.device) -> tuple[Distributed, torch.device]:
    """Join the torchrun process group when launched by torchrun: gloo on CPU, nccl on CUDA.

    Returns this process's place and its device (cuda:LOCAL_RANK on GPU machines).
    """
    world_size = int(os.environ.get("WORLD_SIZE", "1"))
    if world_size == 1:
        return SINGLE, device
    rank, local_rank = int(os.environ["RANK"]), int(os.environ.get("LOCAL_RANK", "0"))
    if device.type == "cuda":
        if local_rank >= torch.cuda.device_count():
            raise WaestyleError(f"local rank {local_rank} has no GPU ({torch.cuda.device_count()} visible)")
        device = torch.device("cuda", local_rank)
        torch.cuda.set_device(device)
    if not dist.is_initialized():
        dist.init_process_group("nccl" if device.type == "cuda" else "gloo")
    return Distributed(rank, world_size, local_rank), device


def teardown_distributed(place: Distributed, wait: bool = True) -> None:
    """Leave the process group; `wait` for the others first unless this process is failing."""
    if place.world_size > 1 and dist.is_initialized():
        if wait:
            dist.barrier()
        dist.destroy_process_group()
