"""Training checkpoints: `checkpoints/step-XXXXXXXX.safetensors` in a run folder with the model, the optimiser
state and the configs, so a run resumes from its files alone, on any machine.

A checkpoint larger than MAX_FILE_BYTES is split: its tensors beyond the first file's share go to
`step-XXXXXXXX.part-N.safetensors`, written first; the main file, written last (each by one rename), names how
many parts it has, so a checkpoint exists exactly when its main file does. Small files travel where large ones
cannot (a remote machine returns files of at most 16 MB).
"""

import json
import logging
import re
from dataclasses import dataclass
from pathlib import Path

import torch
from safetensors.torch import save as save_safetensors_bytes

from waestyle.core.errors import WaestyleError
from waestyle.core.files import atomic_write_bytes
from waestyle.models.io import FORMAT, FORMAT_VERSION, check_finite, check_format, read_safetensors

CHECKPOINT_DIR = "checkpoints"
KEEP_CHECKPOINTS = 2
# Tensor bytes per file: under 16 MB with room for the header and the configs.
MAX_FILE_BYTES = 15 * 2**20
log = logging.getLogger(__name__)
_CHECKPOINT_NAME = re.compile(r"step-(\d{8})\.safetensors")


@dataclass
class TrainingCheckpoint:
    """Everything a resumed run needs; `step` counts optimiser updates already done."""

    step: int
    model_config: dict
    train_config: dict
    model: dict[str, torch.Tensor]
    optimizer: dict


def _optimizer_to_tensors(state: dict) -> tuple[dict[str, torch.Tensor], list]:
    tensors = {}
    for index, entries in state["state"].items():
        for key, value in entries.items():
            value = value if torch.is_tensor(value) else torch.tensor(value)
            tensors[f"optimizer.{index}.{key}"] = value.detach().contiguous().cpu()
    return tensors, state["param_groups"]


def _optimizer_from_tensors(tensors: dict[str, torch.Tensor], groups: list) -> dict:
    state: dict[int, dict] = {}
    for name, value in tensors.items():
        _, index, key = name.split(".", 2)
        state.setdefault(int(index), {})[key] = value
    return {"state": state, "param_groups": groups}


def checkpoint_paths(run_dir: Path) -> list[Path]:
    """Checkpoints of a run, oldest first."""
    folder = run_dir / CHECKPOINT_DIR
    if not folder.is_dir():
        return []
    return sorted(p for p in folder.iterdir() if _CHECKPOINT_NAME.fullmatch(p.name))


def save_checkpoint(run_dir: Path, checkpoint: TrainingCheckpoint) -> Path:
    """Write one self-contained checkpoint (its parts, then its main file, each atomically) and drop all but
    the newest few."""
    tensors = {f"model.{k}": v.detach().contiguous().cpu() for k, v in checkpoint.model.items()}
    optimizer_tensors, groups = _optimizer_to_tensors(checkpoint.optimizer)
    tensors.update(optimizer_tensors)
    shards = _shards(tensors, MAX_FILE_BYTES)
    path = run_dir / CHECKPOINT_DIR / f"step-{checkpoint.step:08d}.safetensors"
    for index, shard in enumerate(shards[1:], start=1):
        atomic_write_bytes(_part_path(path, index), save_safetensors_bytes(shard, {"format": FORMAT}))
    metadata = {
        "format": FORMAT,
        "format_version": str(FORMAT_VERSION),
        "step": str(checkpoint.step),
        "model_config": json.dumps(checkpoint.model_config),
        "train_config": json.dumps(checkpoint.train_config),
        "optimizer_groups": json.dumps(groups),
        "parts": str(len(shards) - 1),
    }
    atomic_write_bytes(path, save_safetensors_bytes(shards[0], metadata))
    for old in checkpoint_paths(run_dir)[:-KEEP_CHECKPOINTS]:
        old.unlink(missing_ok=True)  # the main file first: a half-deleted checkpoint is never taken for whole
        for part in old.parent.glob(old.name.replace(".safetensors", ".part-*.safetensors")):
            part.unlink(missing_ok=True)
    return path


def checkpoint_files(path: Path) -> list[Path]:
    """A checkpoint's main file and its parts: what to copy to resume it elsewhere."""
    return [path, *sorted(path.parent.glob(path.name.replace(".safetensors", ".part-*.safetensors")))]


def _part_path(path: Path, index: int) -> Path:
    return path.with_name(path.name.replace(".safetensors", f".part-{index}.safetensors"))


def _shards(tensors: dict[str, torch.Tensor], limit: int) -> list[dict[str, torch.Tensor]]:
    """Tensors in order, a new shard whenever the next would pass `limit` bytes (a larger tensor goes alone)."""
    shards, size = [{}], 0
    for name, tensor in tensors.items():
        nbytes = tensor.numel() * tensor.element_size()
        if shards[-1] and size + nbytes > limit:
            shards.append({})
            size = 0
        shards[-1][name] = tensor
        size += nbytes
    return shards


def load_checkpoint(path: Path) -> TrainingCheckpoint:
    tensors, metadata = read_safetensors(path)
    check_format(path, metadata.get("format"), metadata.get("format_version"))
    try:
        step = int(metadata["step"])
        model_config = json.loads(metadata["model_config"])
        train_config = json.loads(metadata["train_config"])
        groups = json.loads(metadata["optimizer_groups"])
        parts = int(metadata.get("parts", "0"))
    except (KeyError, ValueError) as err:
        raise WaestyleError(f"{path}: incomplete checkpoint metadata ({err})") from err
    for index in range(1, parts + 1):
        part = _part_path(path, index)
        if not part.is_file():
            raise WaestyleError(f"{path}: its part {part.name} is missing")
        tensors.update(read_safetensors(part)[0])
    model = {k.removeprefix("model."): v for k, v in tensors.items() if k.startswith("model.")}
    check_finite(path, model)
    optimizer = _optimizer_from_tensors({k: v for k, v in tensors.items() if k.startswith("optimizer.")}, groups)
    return TrainingCheckpoint(step, model_config, train_config, model, optimizer)


def latest_checkpoint(run_dir: Path) -> TrainingCheckpoint | None:
    """The newest readable checkpoint (an older one if the newest is damaged), or None."""
    errors = []
    for path in reversed(checkpoint_paths(run_dir)):
        try:
            return load_checkpoint(path)
        except WaestyleError as err:
            log.warning("ignoring damaged checkpoint: %s", err)
            errors.append(str(err))
    if errors:
        raise WaestyleError(f"no readable checkpoint in {run_dir}: {errors[0]}")
    return None
