"""Turning a device name from the command line into a torch.device, and where random draws are made."""

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


def draw_device(generator: torch.Generator | None, beside: torch.device | str) -> torch.device:
    """Where to draw random numbers for data on `beside`: on a given generator's own device (a generator draws
    only there; the caller moves the draw), else on `beside` with the default generator."""
    return generator.device if generator is not None else torch.device(beside)
