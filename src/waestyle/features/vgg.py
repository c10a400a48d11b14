"""VGG19 (Simonyan & Zisserman, 2015), the network the research and Gatys et al. used.

Trained weights come from torchvision's standard file `vgg19-dcbb9e9d.pth` (keys `features.N.weight`),
given by path or found in the torch hub cache; waestyle never downloads it at run time.

The same shape with seeded random weights (`random_vgg19`) needs no file at all and is the default
network for Gram statistics: random VGG features keep the high-entropy, texture-rich activations
Gram matrices need, which residual/efficient ImageNet networks lose (Wang, Li & Vasconcelos, CVPR 2021;
Ustyuzhaninov et al., ICLR 2017 synthesise textures from random networks). Narrower copies (widths
divided by 2 or 4) keep most of that at a fraction of the cost.
"""

import os
from pathlib import Path

import torch
from torch import nn

from waestyle.core.errors import WaestyleError
from waestyle.features.base import FeatureNetwork

VGG19_FILE = "vgg19-dcbb9e9d.pth"
VGG19_URL = f"https://download.pytorch.org/models/{VGG19_FILE}"
# torchvision's `features` layout: conv widths with "M" for max-pool; we keep layers up to relu5_1.
VGG19_CFG = (64, 64, "M", 128, 128, "M", 256, 256, 256, 256, "M", 512, 512, 512, 512, "M", 512)
IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)


def _layer_names() -> list[str]:
    """Names for each module index of `features`: conv1_1, relu1_1, ..., pool1, ..."""
    names, block, conv = [], 1, 1
    for item in VGG19_CFG:
        if item == "M":
            names.append(f"pool{block}")
            block, conv = block + 1, 1
        else:
            names += [f"conv{block}_{conv}", f"relu{block}_{conv}"]
            conv += 1
    return names


class VGG19(FeatureNetwork):
    """VGG19's convolutional part up to relu5_1, returning ReLU outputs by their usual names.

    `width_divisor` narrows every layer (1 is the real VGG19, whose trained weights fit only then).
    """

    style_layers = ("relu1_1", "relu2_1", "relu3_1", "relu4_1")
    content_layer = "relu4_2"

    def __init__(self, name: str = "vgg19", width_divisor: int = 1):
        super().__init__()
        self.name = name
        cfg = [item if item == "M" else item // width_divisor for item in VGG19_CFG]
        layers, c_in = [], 3
        for item in cfg:
            if item == "M":
                layers.append(nn.MaxPool2d(2, 2))
            else:
                layers += [nn.Conv2d(c_in, item, 3, padding=1), nn.ReLU(inplace=False)]
                c_in = item
        self.features = nn.Sequential(*layers)
        self.layer_names = _layer_names()
        widths = [c for c in cfg if c != "M"]
        self.channels = {}
        conv_index = 0
        for name in self.layer_names:
            if name.startswith("relu"):
                self.channels[name] = widths[conv_index]
                conv_index += 1
        self.register_buffer("mean", torch.tensor(IMAGENET_MEAN).view(1, 3, 1, 1), persistent=False)
        self.register_buffer("std", torch.tensor(IMAGENET_STD).view(1, 3, 1, 1), persistent=False)

    def normalize(self, images: torch.Tensor) -> torch.Tensor:
        return (images - self.mean) / self.std

    def forward(self, images: torch.Tensor, layers: tuple[str, ...]) -> dict[str, torch.Tensor]:
        wanted, out = set(layers), {}
        x = self.normalize(images)
        for name, module in zip(self.layer_names, self.features, strict=True):
            x = module(x)
            if name in wanted:
                out[name] = x
                if wanted <= out.keys():
                    break
        return out


def find_vgg19_weights(path: str | Path | None = None) -> Path:
    """The weight file: `path`, else $WAESTYLE_VGG19_WEIGHTS, else the torch hub cache."""
    if path:
        candidates = [Path(path)]
    elif os.environ.get("WAESTYLE_VGG19_WEIGHTS"):
        candidates = [Path(os.environ["WAESTYLE_VGG19_WEIGHTS"])]
    else:
        candidates = [Path(torch.hub.get_dir()) / "checkpoints" / VGG19_FILE]
    for candidate in candidates:
        if candidate.is_file():
            return candidate
    raise WaestyleError(
        f"VGG19 weights not found at {candidates[0]}; download {VGG19_URL} (548 MB) and pass it "
        f"with --vgg19-weights FILE, set WAESTYLE_VGG19_WEIGHTS, or put it in the torch hub cache "
        f"({Path(torch.hub.get_dir()) / 'checkpoints'}), or use --features efficientnet-lite0"
    )


def load_vgg19(weights: str | Path | None = None) -> VGG19:
    """Frozen VGG19 from torchvision's weight file (classifier weights are ignored)."""
    path = find_vgg19_weights(weights)
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as err:  # a truncated download, an HTML page saved as .pth, a pickle with code
        raise WaestyleError(f"cannot read VGG19 weights {path}: {str(err).splitlines()[0]}") from err
    net = VGG19()
    wanted = net.state_dict().keys()
    missing = [k for k in wanted if k not in state]
    if missing:
        raise WaestyleError(f"{path} is not a torchvision VGG19 state dict (missing {missing[0]})")
    try:
        net.load_state_dict({k: state[k] for k in wanted})
    except RuntimeError as err:
        raise WaestyleError(f"{path} does not match VGG19: {str(err).splitlines()[-1].strip()}") from err
    return net.freeze()


# name -> (width divisor, seed). The judge's weights share no seed with any training network.
RANDOM_VGG19 = {
    "random-vgg19": (1, 0),
    "random-vgg19-half": (2, 0),
    "random-vgg19-quarter": (4, 0),
    "random-vgg19-judge": (2, 7919),
}


def random_vgg19(name: str) -> VGG19:
    """A frozen VGG19-shaped network with seeded random weights, by its registered name."""
    divisor, seed = RANDOM_VGG19[name]
    return seeded_vgg19(name, divisor, seed)


def seeded_vgg19(name: str, divisor: int, seed: int) -> VGG19:
    """VGG19 narrowed by `divisor` with Kaiming-normal convolutions drawn from `seed`, zero biases, frozen.

    Kaiming init keeps the activation scale constant through the ReLU layers, so every layer's Gram
    matrix carries signal; the seed makes the network (and so every model trained on it) reproducible.
    """
    net = VGG19(name, divisor)
    generator = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for module in net.features:
            if isinstance(module, nn.Conv2d):
                fan_in = module.in_channels * module.kernel_size[0] * module.kernel_size[1]
                module.weight.copy_(torch.randn(module.weight.shape, generator=generator) * (2.0 / fan_in) ** 0.5)
                module.bias.zero_()
    return net.freeze()
