"""The WAE style model (content encoder, Gram-matrix style encoder, decoder), its two architectures and their
shared layers, and model folders (`config.json` + `model.safetensors`)."""

from waestyle.models.io import load_model, load_model_config, save_model
from waestyle.models.wae import WAEStyleModel

__all__ = ["WAEStyleModel", "load_model", "load_model_config", "save_model"]
