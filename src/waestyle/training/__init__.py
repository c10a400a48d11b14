"""Training: the loop, the losses (reconstruction, WAE-MMD, style), torchrun data parallelism, checkpoints."""

from waestyle.training.loop import fine_tune_config, train

__all__ = ["fine_tune_config", "train"]
