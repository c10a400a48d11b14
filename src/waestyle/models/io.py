"""Model folders: `config.json` + `model.safetensors`, written atomically, read with every check (no pickles).

A model folder (what `--model` points at) holds the two files; `load_model` refuses a wrong format, a
corrupt file or non-finite weights with a one-line error naming the file.
"""

import json
from pathlib import Path

import torch
from safetensors import SafetensorError
from safetensors.torch import load as load_safetensors_bytes
from safetensors.torch import save as save_safetensors_bytes

from waestyle.core.config import ModelConfig
from waestyle.core.errors import WaestyleError
from waestyle.core.files import atomic_write_bytes
from waestyle.core.version import __version__

FORMAT = "waestyle"
FORMAT_VERSION = 1
CONFIG_FILE = "config.json"
WEIGHTS_FILE = "model.safetensors"


def read_safetensors(path: Path) -> tuple[dict[str, torch.Tensor], dict[str, str]]:
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


def check_format(source: Path, fmt: str | None, version: str | int | None) -> None:
    if fmt != FORMAT:
        raise WaestyleError(f"{source}: not a waestyle model (format {fmt!r})")
    if str(version) != str(FORMAT_VERSION):
        raise WaestyleError(
            f"{source}: written in waestyle checkpoint format {version}, this waestyle "
            f"({__version__}) reads format {FORMAT_VERSION}"
        )


def check_finite(source: Path, tensors: dict[str, torch.Tensor]) -> None:
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
    weights, metadata = read_safetensors(run_dir / WEIGHTS_FILE)
    check_format(run_dir / WEIGHTS_FILE, metadata.get("format"), metadata.get("format_version"))
    check_finite(run_dir / WEIGHTS_FILE, weights)
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
    check_format(config_path, document.get("format"), document.get("format_version"))
    if not isinstance(document.get("model"), dict):
        raise WaestyleError(f"{config_path}: no model section")
    try:
        return ModelConfig.from_dict(document["model"])
    except TypeError as err:
        raise WaestyleError(f"{config_path}: bad model config ({err})") from err
