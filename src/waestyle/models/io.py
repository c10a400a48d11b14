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
from waestyle.models.style_head import load_style_head, save_style_head

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


def save_model(
    run_dir: Path, config: ModelConfig, weights: dict[str, torch.Tensor], step: int, dtype: torch.dtype | None = None
) -> None:
    """The inference export: config.json + model.safetensors (weights first, so config never leads). `dtype`
    (float16) stores floating weights smaller; `load_model` gives them back as float32 either way."""
    metadata = {"format": FORMAT, "format_version": str(FORMAT_VERSION), "step": str(step)}
    tensors = {k: _stored(v.detach(), dtype).contiguous().cpu() for k, v in weights.items()}
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
    # a half-precision folder computes as any other: the modules are float32 and so are the weights they get
    return config, {name: _stored(tensor, torch.float32) for name, tensor in weights.items()}


def too_large_for_float16(weights: dict[str, torch.Tensor]) -> list[str]:
    """Names of the floating weights float16 cannot hold (|w| >= 65,504, its largest finite value)."""
    return [name for name, w in weights.items() if w.is_floating_point() and w.abs().max() >= 65504]


def write_half_model(source: str | Path, out: str | Path, overwrite: bool = False) -> Path:
    """A copy of the model folder `source` with float16 weights (its largest value must fit: |w| < 65,504), and
    its style head, if any, in float16 too."""
    out = Path(out)
    if out.exists() and (not out.is_dir() or (any(out.iterdir()) and not overwrite)):
        raise WaestyleError(f"{out}: exists and is not empty (pass --overwrite to replace the model in it)")
    config, weights = load_model(source)
    too_large = too_large_for_float16(weights)
    if too_large:
        raise WaestyleError(f"{source}: weight {too_large[0]} does not fit in float16")
    out.mkdir(parents=True, exist_ok=True)
    save_model(out, config, weights, model_step(source), dtype=torch.float16)
    head = load_style_head(source)
    if head is not None:
        save_style_head(head[0], out, head[1]["step"], torch.float16)
    return out


def model_step(run_dir: str | Path) -> int:
    """The training step a model folder was saved at (0 when its config does not say)."""
    document = json.loads((Path(run_dir) / CONFIG_FILE).read_text())
    return int(document.get("step", 0))


def _stored(tensor: torch.Tensor, dtype: torch.dtype | None) -> torch.Tensor:
    return tensor.to(dtype) if dtype is not None and tensor.is_floating_point() else tensor


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
