"""Model and training settings as plain dataclasses (no torch import: the CLI reads their defaults).

Both are saved with every checkpoint, so a model folder says exactly how it was built and trained.
"""

import math
from dataclasses import asdict, dataclass, field, fields

from waestyle.core.errors import WaestyleError

# 40 megapixels (e.g. 8000 x 5000): above any camera photo a user would stylise, far below a bomb.
DEFAULT_MAX_PIXELS = 40_000_000
# Long side a spatial model processes in one pass by default: about 4x the memory of 1024 px (see benchmarks).
DEFAULT_MAX_SIDE = 2048
FEATURE_CHOICES = (
    "efficientnet-lite0", "efficientnet-lite1", "efficientnet-lite2", "vgg19",
    "random-vgg19", "random-vgg19-half", "random-vgg19-quarter", "random-vgg19-judge",
)  # fmt: skip
# features/style_statistics.py's STYLE_LOSSES names (kept in step by a test; config imports no torch)
STYLE_LOSS_CHOICES = ("lite0-moments-pixels", "lite0-moments-colours")
ARCHITECTURES = ("global", "spatial")
UPSAMPLING = ("nearest", "bilinear")
CONTENT_FILLS = ("zero", "prior", "mosaic")
PRECISIONS = ("auto", "fp32", "bf16")


@dataclass(frozen=True)
class ModelConfig:
    """Everything needed to rebuild the network; saved as config.json beside the weights."""

    arch: str = "global"
    image_size: int = 64
    content_dim: int = 128
    style_dim: int = 64
    features: str = "efficientnet-lite0"
    base_channels: int = 32
    max_channels: int = 256
    style_hidden: int = 256
    # spatial arch: z_c has one vector per content_stride x content_stride block of pixels
    content_stride: int = 8
    # trained with nested dropout, so any prefix of z_c's channels is a usable smaller content code
    nested_content: bool = False
    # residual blocks at the decoder's bottleneck (spatial arch): where the style's texture is drawn
    res_blocks: int = 1
    # long side at which the style encoder reads a style image (0: image_size, a centre crop, as trained
    # before); a larger side keeps the style's texture, which a 64-px thumbnail blurs away
    style_size: int = 0
    # how the spatial decoder doubles its maps: "bilinear" avoids the blocky, grid-periodic ripples
    # that nearest-neighbour copies leave under a strong style loss
    upsample: str = "nearest"
    # nested content: what replaces dropped z_c channels, "zero" (the prior's mean) or "prior" (a seeded
    # draw from N(0, I), which the decoder learns to draw the style's texture from)
    content_fill: str = "zero"
    # content_fill="mosaic": each patch's side as a share of the code grid's shorter side (models/mosaic.py)
    mosaic_share: float = 0.25
    # nested content: the decoder is told how many z_c channels it got (log2(content_dim / k), added to z_s
    # through a learned map), so a small content code can be drawn differently, not just from less
    size_aware: bool = False
    # spatial arch: the style sets this many palettes of scales and shifts per decoder layer, mixed per pixel
    # by the content (blocks.RegionStyleNorm); 1 is one palette for the whole picture
    style_regions: int = 1

    def __post_init__(self):
        if not 1 <= self.style_regions <= 16 or (self.style_regions > 1 and self.arch != "spatial"):
            raise WaestyleError("--style-regions must be 1 to 16, and above 1 needs --arch spatial")
        if self.size_aware and not (self.nested_content and self.arch == "spatial"):
            raise WaestyleError("--size-aware needs --nested-content and --arch spatial")
        if self.content_fill not in CONTENT_FILLS:
            raise WaestyleError(f"unknown content fill {self.content_fill!r}; choose one of {', '.join(CONTENT_FILLS)}")
        if self.content_fill == "mosaic" and self.arch != "spatial":
            raise WaestyleError("--content-fill mosaic needs --arch spatial (it lays patches of a content map)")
        if not 0 < self.mosaic_share <= 1:
            raise WaestyleError(f"--mosaic-share must be above 0 and at most 1, got {self.mosaic_share}")
        if self.upsample not in UPSAMPLING:
            raise WaestyleError(f"unknown upsampling {self.upsample!r}; choose one of {', '.join(UPSAMPLING)}")
        if self.arch not in ARCHITECTURES:
            raise WaestyleError(f"unknown architecture {self.arch!r}; choose one of {', '.join(ARCHITECTURES)}")
        if self.features not in FEATURE_CHOICES:
            raise WaestyleError(
                f"unknown feature network {self.features!r}; choose one of {', '.join(FEATURE_CHOICES)}"
            )
        size = self.image_size
        if size < 16 or size > 512 or size & (size - 1):
            raise WaestyleError(f"--image-size must be a power of two from 16 to 512, got {size}")
        stride = self.content_stride
        if self.arch == "spatial" and (stride < 2 or stride & (stride - 1) or stride > size // 4):
            raise WaestyleError(f"--content-stride must be a power of two from 2 to image size / 4, got {stride}")
        if self.style_size and not 16 <= self.style_size <= 2048:
            raise WaestyleError(f"--style-size must be from 16 to 2048 (or 0: the image size), got {self.style_size}")
        for name in ("content_dim", "style_dim", "base_channels", "max_channels", "style_hidden", "res_blocks"):
            if getattr(self, name) < 1:
                raise WaestyleError(f"{name} must be positive, got {getattr(self, name)}")

    @property
    def style_side(self) -> int:
        """The long side of a style image as the style encoder reads it."""
        return self.style_size or self.image_size

    @property
    def num_resolutions(self) -> int:
        """Stride-2 stages between the image and the bottleneck: 4x4 (global) or the content stride (spatial)."""
        if self.arch == "spatial":
            return int(math.log2(self.content_stride))
        return int(math.log2(self.image_size)) - 2

    def widths(self) -> list[int]:
        """Channels after each downsampling stage, doubling up to `max_channels`."""
        return [min(self.base_channels * 2**i, self.max_channels) for i in range(self.num_resolutions)]

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict) -> "ModelConfig":
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(data) - known)
        if unknown:
            raise WaestyleError(f"model config has unknown fields {unknown}; was it written by a newer waestyle?")
        return cls(**data)


@dataclass
class TrainConfig:
    """How to train; saved in every checkpoint so `--resume` continues exactly."""

    data: list[str] = field(default_factory=list)

    # -- optimisation --
    steps: int = 2000
    batch_size: int = 32
    lr: float = 1e-3
    grad_clip: float = 0.0  # clip the gradient's global norm to this (0: off): strong style losses give rare huge ones
    seed: int = 0
    # start a new run from this model folder's weights ("default": the bundled model's), fine-tuning it;
    # weights the new config adds keep their initial values
    init_from: str = ""

    # -- the objective: reconstruction + mmd_weight * MMD, and the optional terms --
    # WAE's CelebA setting (lambda=100 against 0.05 * summed squared error over 64x64x3 pixels)
    # is about 0.16 relative to our per-pixel mean squared error; 0.1 keeps that balance.
    mmd_weight: float = 0.1
    perceptual_weight: float = 0.0
    # Style consistency: decode (z_c of A, z_s of B) and pull its Grams to B's, its deep features to A's;
    # AdaIN's moments (per-channel means and standard deviations, Huang & Belongie, 2017: steadier than Gram
    # matrices, blind to their mean-dominated energy); the mean and covariance, and the sliced Wasserstein
    # distance, of its pixel colours to B's; its total variation (damps the ripples a strong style loss invents).
    style_loss_weight: float = 0.0
    content_loss_weight: float = 0.0
    moment_loss_weight: float = 0.0
    colour_loss_weight: float = 0.0
    colour_histogram_weight: float = 0.0
    tv_weight: float = 0.0
    # the style term's representation: "" is the relative Gram distance in the model's --features network; a
    # STYLE_LOSS_CHOICES name compares other statistics (features/style_statistics.py), chosen by the ceiling test
    style_loss: str = ""
    # --style-loss's denominators ||s(style)||² held at least this share of the batch's median one: a near-black
    # style (0.7 % of the training images) would otherwise outweigh a whole batch (0: no floor)
    style_floor: float = 0.0
    # frozen network for the content term ("": the style network); a pretrained one keeps what things are,
    # where a random one keeps only where edges are
    content_features: str = ""

    # -- nested content: each image's loss terms weighed by its kept share of z_c, k / content_dim --
    content_loss_by_size: bool = False
    # the content term times (k / content_dim) ** content_size_power: 0.5 keeps some layout at small k, 1 leaves
    # small codes mostly to style; the style term times (content_dim / k) ** style_size_power, so a small code is
    # asked for more style, not only less content (0: the same at every k); the reconstruction times
    # (k / content_dim) ** reconstruction_size_power, so a small code is not held to redraw its image exactly
    content_size_power: float = 0.5
    style_size_power: float = 0.0
    reconstruction_size_power: float = 0.0

    # -- bookkeeping and hardware --
    checkpoint_every: int = 500  # steps between checkpoints (the model folder is rewritten with each)
    sample_every: int = 500  # steps between sample grids in RUN_DIR/samples
    # steps ("500,2000,8000") at which a float16 model folder is kept in RUN_DIR/snapshots/step-N: the points of
    # a learning curve from one run (checkpoints are pruned; these are not)
    snapshots: str = ""
    log_every: int = 10  # steps between rows of RUN_DIR/log.csv
    workers: int = 0  # data-loading processes per training process
    # hold the training set on the device as uint8 and cut, flip and colour-jitter each batch there (GPUs)
    device_data: bool = False
    max_pixels: int = DEFAULT_MAX_PIXELS  # training images larger than this are refused
    device: str = "cpu"
    # auto: bf16 autocast on CUDA, fp32 on CPU (where bf16 is slow and changes results)
    precision: str = "auto"
    compile: bool = False  # torch.compile the loss computation (pays off on GPUs, for long runs)
    # stop after this many minutes of training (0: run all steps), with a checkpoint, so a time-boxed
    # session ends cleanly and `--resume` goes on from there
    max_minutes: float = 0.0

    def __post_init__(self):
        if self.precision not in PRECISIONS:
            raise WaestyleError(f"--precision {self.precision!r}: choose from {', '.join(PRECISIONS)}")
        if self.batch_size < 2:
            raise WaestyleError("--batch-size must be at least 2 (the MMD penalty compares samples in a batch)")
        for name in ("steps", "checkpoint_every", "sample_every", "log_every"):
            if getattr(self, name) < 1:
                raise WaestyleError(f"--{name.replace('_', '-')} must be at least 1")
        self.snapshot_steps()  # refuses a malformed list now, not at the first snapshot
        if self.style_loss and self.style_loss not in STYLE_LOSS_CHOICES:
            raise WaestyleError(
                f"unknown --style-loss {self.style_loss!r}; choose one of {', '.join(STYLE_LOSS_CHOICES)}"
            )
        if self.content_features and self.content_features not in FEATURE_CHOICES:
            raise WaestyleError(
                f"unknown --content-features {self.content_features!r}; choose one of {', '.join(FEATURE_CHOICES)}"
            )
        weights = (
            self.mmd_weight, self.perceptual_weight, self.style_loss_weight, self.content_loss_weight,
            self.moment_loss_weight, self.tv_weight, self.content_size_power, self.style_size_power,
            self.colour_loss_weight, self.colour_histogram_weight, self.reconstruction_size_power, self.style_floor,
        )  # fmt: skip
        if self.lr <= 0 or min(weights) < 0 or self.grad_clip < 0 or self.max_minutes < 0:
            raise WaestyleError("--lr must be positive, loss weights, --grad-clip and --max-minutes not negative")

    def snapshot_steps(self) -> set[int]:
        """The steps of `snapshots`, a comma-separated list of positive integers."""
        try:
            steps = {int(part) for part in self.snapshots.split(",") if part.strip()}
        except ValueError:
            steps = {0}
        if min(steps, default=1) < 1:
            raise WaestyleError(f"--snapshots {self.snapshots!r}: give steps as positive integers, e.g. 500,2000,8000")
        return steps

    @classmethod
    def from_dict(cls, data: dict) -> "TrainConfig":
        known = {f.name for f in fields(cls)}
        return cls(**{k: v for k, v in data.items() if k in known})


# Settings a resumed run may change; any other change would make it diverge from an uninterrupted run.
RESUMABLE_CHANGES = {
    "steps", "checkpoint_every", "sample_every", "log_every", "workers", "max_pixels", "device", "precision", "compile",
    "max_minutes", "snapshots",
}  # fmt: skip
