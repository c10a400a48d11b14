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


def has_amx(device: torch.device) -> bool:
    """Whether `device` is a CPU with AMX tiles (bf16 matrix hardware), where bf16 convolutions beat fp32 ones."""
    return device.type == "cpu" and bool(getattr(torch.cpu, "_is_amx_tile_supported", lambda: False)())


def native_bf16(device: torch.device) -> bool:
    """Whether `device` computes in bf16 natively: any GPU, a CPU with AVX-512 bf16 instructions or AMX tiles.
    Elsewhere (an AVX2 CPU, say) PyTorch emulates bf16, and a training step took 20x as long as in fp32."""
    if device.type != "cpu":
        return True
    return has_amx(device) or bool(getattr(torch.cpu, "_is_avx512_bf16_supported", lambda: False)())
