"""The training loop: reconstruction + WAE-MMD on both latents, seeded, resumable, logged.

Read top to bottom: set-up (model, optimiser, maybe a checkpoint), then one loop of
batch -> losses -> update -> log / sample / checkpoint.
"""

import csv
import math
import tempfile
import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path

import torch
from torch import nn
from torch.nn.parallel import DistributedDataParallel
from torch.utils.data import DataLoader
from tqdm import tqdm

from waestyle.bundled import DEFAULT_MODEL
from waestyle.checkpoint import (
    CHECKPOINT_DIR,
    CONFIG_FILE,
    TrainingCheckpoint,
    latest_checkpoint,
    load_model,
    load_model_config,
    save_checkpoint,
    save_model,
)
from waestyle.config import RESUMABLE_CHANGES, ModelConfig, TrainConfig
from waestyle.data import StepBatchSampler, build_dataset
from waestyle.devices import resolve_device
from waestyle.distributed import SINGLE, Distributed, setup_distributed, teardown_distributed
from waestyle.errors import WaestyleError
from waestyle.features import FeatureNetwork, load_feature_network
from waestyle.images import make_grid, save_image
from waestyle.losses import (
    colour_histogram_distance,
    colour_moment_distance,
    content_distance,
    feature_loss,
    imq_mmd,
    latent_samples,
    moment_distance,
    reconstruction_loss,
    style_distance,
    total_variation,
)
from waestyle.model import WAEStyleModel, content_fill, keep_content_channels, sample_content_sizes

LOG_COLUMNS = (
    "step",
    "loss",
    "reconstruction",
    "mmd_content",
    "mmd_style",
    "perceptual",
    "style",
    "moments",
    "content",
    "tv",
    "colour",
    "histogram",
    "images_per_s",
    "elapsed_s",
)
# Loss terms that are zero unless their weight is set (shown in the progress bar when in use).
OPTIONAL_TERMS = ("style", "moments", "content", "tv", "colour", "histogram")
# The MMD costs N² in the number of samples; a spatial z_c gives B * positions of them.
MMD_MAX_SAMPLES = 1024


@dataclass
class TrainResult:
    run_dir: Path
    start_step: int
    steps: int
    history: list[dict] = field(default_factory=list)


def training_losses(
    model: WAEStyleModel,
    images: torch.Tensor,
    generator: torch.Generator,
    config: TrainConfig,
    place: Distributed = SINGLE,
    content_net: FeatureNetwork | None = None,
) -> dict[str, torch.Tensor]:
    """All loss terms of one batch; `loss` is the weighted sum that is minimised.

    Reconstruction + MMD on z_c and z_s always; a deep-feature reconstruction term with
    `perceptual_weight`; with the style-consistency weights, the batch is also decoded with its
    styles rolled by one, (z_c of A, z_s of B), and that output is pulled to B's Gram matrices (and
    feature moments) and to A's deep content features in `content_net` (default: the style network).
    With `nested_content`, each image decodes from a random prefix of z_c (and, with
    `content_loss_by_size`, owes content in proportion to a power of that prefix's length, and style
    in inverse proportion to another).
    Under torchrun, `images` is this process's shard; the batch-wide terms see the whole batch (see
    waestyle.distributed), and the random draws are the whole batch's, so W processes match one.
    """
    net, device = model.feature_net, images.device
    content_net = content_net or net
    style_terms = config.style_loss_weight > 0 or config.moment_loss_weight > 0
    colour_terms = config.colour_loss_weight > 0 or config.colour_histogram_weight > 0
    swap = style_terms or colour_terms or config.content_loss_weight > 0 or config.tv_weight > 0
    needs_content, own_content = swap or config.perceptual_weight > 0, content_net is net
    # VGG19's content layer lies past its style layers: one pass gives both
    maps = model.style_features(images, (net.content_layer,) if needs_content and own_content else ())
    if needs_content:
        with torch.no_grad():
            maps[CONTENT] = maps[net.content_layer] if own_content else _content_map(content_net, images)
    z_style, z_content = model.style_encoder(maps), model.encode_content(images)
    all_styles = place.gather(z_style)
    z_decode, sizes, content_weights, style_weights, own_weights = z_content, None, None, None, None
    if model.config.nested_content:
        sizes = place.shard(sample_content_sizes(len(all_styles), z_content.shape[1], generator).to(device))
        z_decode = keep_content_channels(z_content, sizes, content_fill(model.config, z_content, generator))
        if config.content_loss_by_size:
            # the full z_c keeps full weight; a small code owes less layout and more style
            share = sizes.to(z_content.dtype) / z_content.shape[1]
            content_weights = share.pow(config.content_size_power)
            style_weights = share.pow(-config.style_size_power) if config.style_size_power else None
            own_weights = share.pow(config.reconstruction_size_power) if config.reconstruction_size_power else None
    reconstruction = model.decode(z_decode, z_style, sizes)
    content_samples = latent_samples(place.gather(z_content), MMD_MAX_SAMPLES, generator)
    zero = torch.zeros((), device=device)
    terms = {
        "reconstruction": reconstruction_loss(reconstruction, images, own_weights),
        "mmd_content": imq_mmd(content_samples, torch.randn(content_samples.shape, generator=generator).to(device)),
        "mmd_style": imq_mmd(all_styles, torch.randn(all_styles.shape, generator=generator).to(device)),
        **dict.fromkeys(("perceptual", *OPTIONAL_TERMS), zero),
    }
    if config.perceptual_weight > 0:
        recon_map = _content_map(content_net, reconstruction)
        terms["perceptual"] = feature_loss({CONTENT: recon_map}, {CONTENT: maps[CONTENT]})
    if swap:
        swapped = model.decode(z_decode, place.shard(all_styles.roll(1, dims=0)), sizes)
        if style_terms:
            out_maps = net(swapped, net.style_layers)
            targets = {name: place.shard(place.gather(maps[name]).roll(1, dims=0)) for name in net.style_layers}
            terms["style"] = style_distance(out_maps, targets, net.style_layers, style_weights)
            terms["moments"] = moment_distance(out_maps, targets, net.style_layers)
        if config.content_loss_weight > 0:
            terms["content"] = content_distance(_content_map(content_net, swapped), maps[CONTENT], content_weights)
        terms["tv"] = total_variation(swapped)
        if colour_terms:
            style_images = place.shard(place.gather(images).roll(1, dims=0))
            if config.colour_loss_weight > 0:
                terms["colour"] = colour_moment_distance(swapped, style_images)
            if config.colour_histogram_weight > 0:  # its sort is the costly part: only when it counts
                terms["histogram"] = colour_histogram_distance(swapped, style_images, generator)
    terms["loss"] = (
        terms["reconstruction"]
        + config.mmd_weight * (terms["mmd_content"] + terms["mmd_style"])
        + config.perceptual_weight * terms["perceptual"]
        + config.style_loss_weight * terms["style"]
        + config.moment_loss_weight * terms["moments"]
        + config.content_loss_weight * terms["content"]
        + config.tv_weight * terms["tv"]
        + config.colour_loss_weight * terms["colour"]
        + config.colour_histogram_weight * terms["histogram"]
    )
    return terms


# Key of the content network's map of the input batch among the style maps.
CONTENT = "content"


def _content_map(content_net: FeatureNetwork, images: torch.Tensor) -> torch.Tensor:
    return content_net(images, (content_net.content_layer,))[content_net.content_layer]


@torch.no_grad()
def sample_grid(model: WAEStyleModel, images: torch.Tensor):
    """Rows: originals, reconstructions, and style swaps (content of i with the style of i+1)."""
    reconstruction, z_content, z_style = model(images)
    swapped = model.decode(z_content, z_style.roll(1, dims=0))
    return make_grid([images.cpu(), reconstruction.cpu(), swapped.cpu()])


def progress_fields(row: dict, rate: float) -> dict[str, str]:
    """What the progress bar shows: the loss terms in use and the speed."""
    shown = {"loss": row["loss"], "rec": row["reconstruction"], "mmd": row["mmd_content"] + row["mmd_style"]}
    shown.update({name: row[name] for name in OPTIONAL_TERMS if row[name]})
    return {**{k: f"{v:.4f}" for k, v in shown.items()}, "img_s": f"{rate:.1f}"}


def check_writable(run_dir: Path) -> None:
    """Fail before training, not at the first checkpoint, when the output folder cannot be written."""
    try:
        run_dir.mkdir(parents=True, exist_ok=True)
        # A unique probe name: under torchrun every process checks the same folder at once.
        with tempfile.NamedTemporaryFile(dir=run_dir, prefix=".write-test-") as probe:
            probe.write(b"ok")
    except OSError as err:
        raise WaestyleError(f"cannot write to {run_dir}: {err.strerror or err}") from err


def _init_source(source: str | Path) -> Path:
    return DEFAULT_MODEL if str(source) == "default" else Path(source)


def fine_tune_config(source: str | Path, given: dict) -> ModelConfig:
    """The config of a run started `--init-from` a model: that model's, with the model settings the user
    gave (`given`) on top; those that change a weight's shape fail when its weights are loaded."""
    return ModelConfig.from_dict({**load_model_config(_init_source(source)).to_dict(), **given})


def load_fine_tune_weights(model: WAEStyleModel, source: str) -> None:
    """The weights of the model in `source` into `model`; weights the model has and the source lacks (a
    newly added part) keep their initial values, anything else that does not fit is an error."""
    weights = load_model(_init_source(source))[1]
    own = model.trainable_state_dict()
    foreign = sorted(set(weights) - set(own))
    misshapen = sorted(name for name in set(weights) & set(own) if weights[name].shape != own[name].shape)
    if foreign or misshapen:
        raise WaestyleError(
            f"--init-from {source}: its weights do not fit this model "
            f"({', '.join((foreign + misshapen)[:3])}); keep the settings that shape the network"
        )
    model.load_state_dict({name: value.float() for name, value in weights.items()}, strict=False)


def merge_resumed(saved: dict, requested: dict, explicit: set[str], what: str) -> dict:
    """The saved config with the explicitly requested changes that a resumed run allows."""
    merged = dict(saved)
    for name in explicit:
        if requested[name] == saved.get(name):
            continue
        if what == "train" and name in RESUMABLE_CHANGES:
            merged[name] = requested[name]
        else:
            raise WaestyleError(
                f"--{name.replace('_', '-')} {requested[name]} differs from the resumed run's "
                f"{saved.get(name)}; a resumed run keeps it (start a new --out to change it)"
            )
    return merged


class _CsvLog:
    """log.csv, one row per logged step; on resume, rows past the checkpoint are dropped."""

    def __init__(self, path: Path, start_step: int):
        rows = []
        if start_step > 0 and path.is_file():
            with path.open(newline="") as handle:
                rows = [
                    r for r in csv.DictReader(handle) if r.get("step", "").isdigit() and int(r["step"]) <= start_step
                ]
        self.handle = path.open("w", newline="")
        self.writer = csv.DictWriter(self.handle, fieldnames=LOG_COLUMNS)
        self.writer.writeheader()
        self.writer.writerows(rows)

    def write(self, row: dict) -> None:
        self.writer.writerow({k: row[k] for k in LOG_COLUMNS})
        self.handle.flush()

    def close(self) -> None:
        self.handle.close()


def train(
    model_config: ModelConfig,
    config: TrainConfig,
    run_dir: str | Path,
    *,
    resume: bool = False,
    explicit: Sequence[str] = (),
    vgg19_weights: str | Path | None = None,
    progress: bool = True,
) -> TrainResult:
    """Train (or, with `resume`, continue) a model into `run_dir`.

    `explicit` names the settings the user gave; on resume those must agree with the run's own. A run
    started from another model (`config.init_from`) takes that model's settings and only the `explicit`
    ones from `model_config`.
    """
    run_dir = Path(run_dir)
    checkpoint = latest_checkpoint(run_dir) if run_dir.is_dir() else None
    if checkpoint is None and not resume and (run_dir / CONFIG_FILE).exists():
        raise WaestyleError(f"{run_dir} already holds a model; pass --resume to continue it or choose another --out")
    if checkpoint is not None and not resume:
        raise WaestyleError(
            f"{run_dir} already holds a training run; pass --resume to continue it or choose another --out"
        )
    if checkpoint is not None:
        explicit = set(explicit)
        model_config = ModelConfig.from_dict(
            merge_resumed(
                checkpoint.model_config, model_config.to_dict(), explicit & set(checkpoint.model_config), "model"
            )
        )
        saved = checkpoint.train_config
        config = TrainConfig.from_dict(merge_resumed(saved, asdict(config), explicit & set(saved), "train"))
    if not config.data:
        raise WaestyleError("no --data folders given")
    if checkpoint is None and config.init_from:
        given = {name: value for name, value in model_config.to_dict().items() if name in explicit}
        model_config = fine_tune_config(config.init_from, given)
    check_writable(run_dir)
    start_step = checkpoint.step if checkpoint else 0
    if start_step >= config.steps:
        raise WaestyleError(f"{run_dir} is already trained for {start_step} steps; pass a larger --steps to go on")

    place, device = setup_distributed(resolve_device(config.device))
    if config.batch_size % place.world_size:
        raise WaestyleError(
            f"--batch-size {config.batch_size} (the global batch) must divide evenly among {place.world_size} processes"
        )
    try:
        result = _train_loop(model_config, config, run_dir, checkpoint, place, device, vgg19_weights, progress)
    except BaseException:
        teardown_distributed(place, wait=False)
        raise
    teardown_distributed(place)
    return result


class LossModule(nn.Module):
    """The model and its objective as one module, so DistributedDataParallel can wrap a whole step."""

    def __init__(
        self,
        model: WAEStyleModel,
        config: TrainConfig,
        place: Distributed,
        autocast: torch.dtype | None,
        content_net: FeatureNetwork | None = None,
    ):
        super().__init__()
        self.model, self.config, self.place, self.autocast = model, config, place, autocast
        self.content_net = content_net

    def forward(self, images: torch.Tensor, generator: torch.Generator) -> dict[str, torch.Tensor]:
        with torch.autocast(images.device.type, dtype=self.autocast, enabled=self.autocast is not None):
            return training_losses(self.model, images, generator, self.config, self.place, self.content_net)


def autocast_dtype(precision: str, device: torch.device) -> torch.dtype | None:
    """bf16 autocast where asked (auto: on CUDA only); None means full fp32."""
    if precision == "bf16" or (precision == "auto" and device.type == "cuda"):
        return torch.bfloat16
    return None


def _train_loop(
    model_config: ModelConfig,
    config: TrainConfig,
    run_dir: Path,
    checkpoint: TrainingCheckpoint | None,
    place: Distributed,
    device: torch.device,
    vgg19_weights: str | Path | None,
    progress: bool,
) -> TrainResult:
    start_step = checkpoint.step if checkpoint else 0
    dataset = build_dataset(config.data, model_config.image_size, config.max_pixels)
    feature_net = load_feature_network(model_config.features, vgg19_weights)
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(config.seed)  # initial weights depend on the seed alone
        model = WAEStyleModel(model_config, feature_net)
    # channels_last suits the convolutions of GPU tensor cores; on CPU it only adds conversions.
    memory_format = torch.channels_last if device.type == "cuda" else torch.contiguous_format
    model.to(device, memory_format=memory_format)
    optimizer = torch.optim.Adam(model.trainable_parameters(), lr=config.lr)
    if checkpoint is None and config.init_from:
        load_fine_tune_weights(model, config.init_from)
    if checkpoint is not None:
        try:
            model.load_state_dict(checkpoint.model, strict=False)
            optimizer.load_state_dict(checkpoint.optimizer)
        except (RuntimeError, ValueError, KeyError) as err:
            raise WaestyleError(f"checkpoint in {run_dir} does not fit its model: {str(err).splitlines()[0]}") from err
    content_net = None
    if config.content_features and config.content_features != model_config.features:
        content_net = load_feature_network(config.content_features, vgg19_weights).to(device)
    step_fn: nn.Module = LossModule(model, config, place, autocast_dtype(config.precision, device), content_net)
    if place.world_size > 1:
        # The frozen CNN's buffers never change, so there is nothing to broadcast each step.
        step_fn = DistributedDataParallel(
            step_fn, device_ids=[device] if device.type == "cuda" else None, broadcast_buffers=False
        )
    if config.compile:
        step_fn = torch.compile(step_fn)

    sampler = StepBatchSampler(len(dataset), config.batch_size, config.seed, start_step, config.steps, place)
    loader = DataLoader(
        dataset,
        batch_sampler=sampler,
        num_workers=config.workers,
        pin_memory=device.type == "cuda",
        persistent_workers=config.workers > 0,
    )
    main = place.is_main
    # Eight images spread over the data set (its folders in order), so the preview shows every kind of image.
    spread = sorted({i * len(dataset) // 8 for i in range(8)})
    preview = torch.stack([dataset[i] for i in spread]).to(device) if main else None
    log = _CsvLog(run_dir / "log.csv", start_step) if main else None
    result = TrainResult(run_dir, start_step, config.steps)
    bar = tqdm(total=config.steps, initial=start_step, disable=not (progress and main), unit="step", dynamic_ncols=True)
    started, rate = time.perf_counter(), None
    try:
        for step, images in enumerate(loader, start=start_step):
            tick = time.perf_counter()
            model.train()
            generator = torch.Generator().manual_seed(config.seed * 1_000_003 + step)
            images = images.to(device, non_blocking=True, memory_format=memory_format)
            terms = step_fn(images, generator)
            optimizer.zero_grad(set_to_none=True)
            terms["loss"].backward()
            if config.grad_clip > 0:
                torch.nn.utils.clip_grad_norm_(model.trainable_parameters(), config.grad_clip)
            optimizer.step()
            done = step + 1
            # Throughput of all processes together: the global batch per step time.
            instant = config.batch_size / max(time.perf_counter() - tick, 1e-9)
            rate = instant if rate is None else 0.9 * rate + 0.1 * instant
            row = place.mean({k: v.item() for k, v in terms.items()})
            if not math.isfinite(row["loss"]):
                raise WaestyleError(f"training diverged at step {done} (loss {row['loss']}); try a lower --lr")
            row.update(step=done, images_per_s=round(rate, 2), elapsed_s=round(time.perf_counter() - started, 2))
            result.history.append(row)
            bar.update(1)
            bar.set_postfix(progress_fields(row, rate), refresh=False)
            if not main:
                continue
            if done % config.log_every == 0 or done == config.steps:
                log.write(row)
            if done % config.sample_every == 0 or done == config.steps:
                model.eval()
                save_image(sample_grid(model, preview), run_dir / "samples" / f"step-{done:08d}.png")
            if done % config.checkpoint_every == 0 or done == config.steps:
                state = TrainingCheckpoint(
                    done, model_config.to_dict(), asdict(config), model.trainable_state_dict(), optimizer.state_dict()
                )
                try:
                    save_checkpoint(run_dir, state)
                    save_model(run_dir, model_config, model.trainable_state_dict(), done)
                except OSError as err:  # disk full, folder removed: earlier checkpoints are intact (atomic writes)
                    raise WaestyleError(
                        f"cannot write the step-{done} checkpoint to {run_dir}: {err.strerror or err}; "
                        "the previous checkpoint is intact, free space and continue with --resume"
                    ) from err
    finally:
        bar.close()
        if log is not None:
            log.close()
    return result


__all__ = ["CHECKPOINT_DIR", "TrainConfig", "TrainResult", "train", "training_losses"]
