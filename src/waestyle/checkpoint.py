"""Model folders and training checkpoints: JSON config + safetensors, written atomically, no pickles.

A model folder (what `--model` points at) holds `config.json` and `model.safetensors`. A training
run adds `checkpoints/step-XXXXXXXX.safetensors`, each one file with the model, the optimiser state
and the configs, so a checkpoint is always self-consistent and replaced in one rename.
"""

import json
import logging
import re
from dataclasses import dataclass
from pathlib import Path

import torch
from safetensors import SafetensorError
from safetensors.torch import load as load_safetensors_bytes
from safetensors.torch import save as save_safetensors_bytes

from waestyle import __version__
from waestyle.config import ModelConfig
from waestyle.errors import WaestyleError
from waestyle.files import atomic_write_bytes

FORMAT = "waestyle"
FORMAT_VERSION = 1
CONFIG_FILE = "config.json"
WEIGHTS_FILE = "model.safetensors"
CHECKPOINT_DIR = "checkpoints"
KEEP_CHECKPOINTS = 2
log = logging.getLogger(__name__)
_CHECKPOINT_NAME = re.compile(r"step-(\d{8})\.safetensors")


def _read_safetensors(path: Path) -> tuple[dict[str, torch.Tensor], dict[str, str]]:
    if not path.is_file():
        raise WaestyleError(f"{path}: no such file")
    try:
        data = path.read_bytes()
        tensors = load_safetensors_bytes(data)
        header_len = int.from_bytes(data[:8], "little")
        metadata = json.loads(data[8 : 8 + header_len]).get("__metadata__", {}) or {}
    except (SafetensorError, ValueError, OSError, json.JSONDecodeError) as err:
        raise WaestyleError(f"{path}: corrupt or not a safetensors file ({str(err).splitlines()[0]})") from err
    return tensors, metadata


def _check_format(source: Path, fmt: str | None, version: str | int | None) -> None:
    if fmt != FORMAT:
        raise WaestyleError(f"{source}: not a waestyle model (format {fmt!r})")
    if str(version) != str(FORMAT_VERSION):
        raise WaestyleError(
            f"{source}: written in waestyle checkpoint format {version}, this waestyle "
            f"({__version__}) reads format {FORMAT_VERSION}"
        )


def _check_finite(source: Path, tensors: dict[str, torch.Tensor]) -> None:
    for name, tensor in tensors.items():
        if tensor.is_floating_point() and not torch.isfinite(tensor).all():
            raise WaestyleError(f"{source}: weight {name} holds NaN or infinite values")


def save_model(run_dir: Path, config: ModelConfig, weights: dict[str, torch.Tensor], step: int) -> None:
    """The inference export: config.json + model.safetensors (weights first, so config never leads)."""
    metadata = {"format": FORMAT, "format_version": str(FORMAT_VERSION), "step": str(step)}
    tensors = {k: v.detach().contiguous().cpu() for k, v in weights.items()}
    atomic_write_bytes(run_dir / WEIGHTS_FILE, save_safetensors_bytes(tensors, metadata))
    document = {
        "format": FORMAT,
        "format_version": FORMAT_VERSION,
        "waestyle_version": __version__,
        "step": step,
        "model": config.to_dict(),
    }
    atomic_write_bytes(run_dir / CONFIG_FILE, (json.dumps(document, indent=2) + "\n").encode())


def load_model(run_dir: str | Path) -> tuple[ModelConfig, dict[str, torch.Tensor]]:
    """Config and weights of a model folder, with a clear error for anything missing or foreign."""
    run_dir = Path(run_dir)
    config = load_model_config(run_dir)
    weights, metadata = _read_safetensors(run_dir / WEIGHTS_FILE)
    _check_format(run_dir / WEIGHTS_FILE, metadata.get("format"), metadata.get("format_version"))
    _check_finite(run_dir / WEIGHTS_FILE, weights)
    return config, weights


def load_model_config(run_dir: str | Path) -> ModelConfig:
    """The config of a model folder alone (its weights unread), with the same checks as `load_model`."""
    run_dir = Path(run_dir)
    if not run_dir.is_dir():
        raise WaestyleError(f"{run_dir}: no such model folder")
    config_path = run_dir / CONFIG_FILE
    if not config_path.is_file():
        raise WaestyleError(f"{run_dir}: no {CONFIG_FILE}, not a waestyle model folder")
    try:
        document = json.loads(config_path.read_text())
        if not isinstance(document, dict):
            raise ValueError("not a JSON object")
    except (ValueError, UnicodeDecodeError) as err:
        raise WaestyleError(f"{config_path}: corrupt config ({err})") from err
    _check_format(config_path, document.get("format"), document.get("format_version"))
    if not isinstance(document.get("model"), dict):
        raise WaestyleError(f"{config_path}: no model section")
    try:
        return ModelConfig.from_dict(document["model"])
    except TypeError as err:
        raise WaestyleError(f"{config_path}: bad model config ({err})") from err


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
    tensors, metadata = _read_safetensors(path)
    _check_format(path, metadata.get("format"), metadata.get("format_version"))
    try:
        step = int(metadata["step"])
        model_config = json.loads(metadata["model_config"])
        train_config = json.loads(metadata["train_config"])
        groups = json.loads(metadata["optimizer_groups"])
    except (KeyError, ValueError) as err:
        raise WaestyleError(f"{path}: incomplete checkpoint metadata ({err})") from err
    model = {k.removeprefix("model."): v for k, v in tensors.items() if k.startswith("model.")}
    _check_finite(path, model)
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
