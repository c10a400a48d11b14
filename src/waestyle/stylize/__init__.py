"""Inference: `Stylizer` (load a model once, then transfer, reconstruct, mix and sample styles), its backends
(PyTorch, torch.compile, ONNX Runtime), ONNX export, and the runners over files and folders."""

from waestyle.stylize.stylizer import Stylizer

__all__ = ["Stylizer"]
