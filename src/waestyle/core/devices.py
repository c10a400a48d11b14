"""Turning a device name from the command line into a torch.device."""

import torch

from waestyle.core.errors import WaestyleError


def resolve_device(name: str) -> torch.device:
    """`auto` picks CUDA when present; asking for CUDA without it is an error, not a silent fallback."""
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if name.startswith("cuda") and not torch.cuda.is_available():
        raise WaestyleError(f"--device {name} asked for, but no CUDA GPU is available")
    try:
        return torch.device(name)
    except RuntimeError as err:
        raise WaestyleError(f"unknown device {name!r}; use auto, cpu or cuda") from err
