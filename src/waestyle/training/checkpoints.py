"""Training checkpoints: `checkpoints/step-XXXXXXXX.safetensors` in a run folder, one file each with the model,
the optimiser state and the configs, so a checkpoint is always self-consistent and replaced in one rename.
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
    """Write one self-contained checkpoint atomically and drop all but the newest few."""
    tensors = {f"model.{k}": v.detach().contiguous().cpu() for k, v in checkpoint.model.items()}
    optimizer_tensors, groups = _optimizer_to_tensors(checkpoint.optimizer)
    tensors.update(optimizer_tensors)
    metadata = {
        "format": FORMAT,
        "format_version": str(FORMAT_VERSION),
        "step": str(checkpoint.step),
        "model_config": json.dumps(checkpoint.model_config),
        "train_config": json.dumps(checkpoint.train_config),
        "optimizer_groups": json.dumps(groups),
    }
    path = run_dir / CHECKPOINT_DIR / f"step-{checkpoint.step:08d}.safetensors"
    atomic_write_bytes(path, save_safetensors_bytes(tensors, metadata))
    for old in checkpoint_paths(run_dir)[:-KEEP_CHECKPOINTS]:
        old.unlink(missing_ok=True)
    return path


def load_checkpoint(path: Path) -> TrainingCheckpoint:
    tensors, metadata = read_safetensors(path)
    check_format(path, metadata.get("format"), metadata.get("format_version"))
    try:
        step = int(metadata["step"])
        model_config = json.loads(metadata["model_config"])
        train_config = json.loads(metadata["train_config"])
        groups = json.loads(metadata["optimizer_groups"])
    except (KeyError, ValueError) as err:
        raise WaestyleError(f"{path}: incomplete checkpoint metadata ({err})") from err
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
