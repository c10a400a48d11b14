"""The training loop: reconstruction + WAE-MMD on both latents, seeded, resumable, logged.

Read top to bottom: set-up (model, optimiser, maybe a checkpoint), then one loop of
batch -> losses -> update -> log / sample / checkpoint.
"""

import csv
import math
import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path

import torch
from torch.utils.data import DataLoader
from tqdm import tqdm

from waestyle.checkpoint import (
    CHECKPOINT_DIR,
    CONFIG_FILE,
    TrainingCheckpoint,
    latest_checkpoint,
    save_checkpoint,
    save_model,
)
from waestyle.config import RESUMABLE_CHANGES, ModelConfig, TrainConfig
from waestyle.data import ImageFolderDataset, StepBatchSampler, find_sources
from waestyle.devices import resolve_device
from waestyle.errors import WaestyleError
from waestyle.features import load_feature_network
from waestyle.images import make_grid, save_image
from waestyle.losses import (
    content_distance,
    feature_loss,
    imq_mmd,
    latent_samples,
    reconstruction_loss,
    style_distance,
)
from waestyle.model import WAEStyleModel, keep_content_channels, sample_content_sizes

LOG_COLUMNS = (
    "step",
    "loss",
    "reconstruction",
    "mmd_content",
    "mmd_style",
    "perceptual",
    "style",
    "content",
    "images_per_s",
    "elapsed_s",
)
# The MMD costs N² in the number of samples; a spatial z_c gives B * positions of them.
MMD_MAX_SAMPLES = 1024


@dataclass
class TrainResult:
    run_dir: Path
    start_step: int
    steps: int
    history: list[dict] = field(default_factory=list)


def training_losses(
    model: WAEStyleModel, images: torch.Tensor, generator: torch.Generator, config: TrainConfig
) -> dict[str, torch.Tensor]:
    """All loss terms of one batch; `loss` is the weighted sum that is minimised.

    Reconstruction + MMD on z_c and z_s always; a deep-feature reconstruction term with
    `perceptual_weight`; with the style-consistency weights, the batch is also decoded with its
    styles rolled by one, (z_c of A, z_s of B), and that output is pulled to B's Gram matrices and
    to A's deep content features. With `nested_content`, each image decodes from a random prefix of z_c.
    """
    net, device = model.feature_net, images.device
    swap = config.style_loss_weight > 0 or config.content_loss_weight > 0
    uses_content = swap or config.perceptual_weight > 0  # VGG19's content layer lies past its style layers
    maps = model.style_features(images, (net.content_layer,) if uses_content else ())
    z_style, z_content = model.style_encoder(maps), model.encode_content(images)
    z_decode = z_content
    if model.config.nested_content:
        sizes = sample_content_sizes(len(images), z_content.shape[1], generator).to(device)
        z_decode = keep_content_channels(z_content, sizes)
    reconstruction = model.decode(z_decode, z_style)
    content_samples = latent_samples(z_content, MMD_MAX_SAMPLES, generator)
    zero = torch.zeros((), device=device)
    terms = {
        "reconstruction": reconstruction_loss(reconstruction, images),
        "mmd_content": imq_mmd(content_samples, torch.randn(content_samples.shape, generator=generator).to(device)),
        "mmd_style": imq_mmd(z_style, torch.randn(z_style.shape, generator=generator).to(device)),
        "perceptual": zero,
        "style": zero,
        "content": zero,
    }
    if config.perceptual_weight > 0:
        layer = net.content_layer
        terms["perceptual"] = feature_loss(net(reconstruction, (layer,)), {layer: maps[layer]})
    if swap:
        swapped = model.decode(z_decode, z_style.roll(1, dims=0))
        out_maps = net(swapped, net.style_layers + (net.content_layer,))
        style_targets = {name: maps[name].roll(1, dims=0) for name in net.style_layers}
        terms["style"] = style_distance(out_maps, style_targets, net.style_layers)
        terms["content"] = content_distance(out_maps[net.content_layer], maps[net.content_layer])
    terms["loss"] = (
        terms["reconstruction"]
        + config.mmd_weight * (terms["mmd_content"] + terms["mmd_style"])
        + config.perceptual_weight * terms["perceptual"]
        + config.style_loss_weight * terms["style"]
        + config.content_loss_weight * terms["content"]
    )
    return terms


@torch.no_grad()
def sample_grid(model: WAEStyleModel, images: torch.Tensor):
    """Rows: originals, reconstructions, and style swaps (content of i with the style of i+1)."""
    reconstruction, z_content, z_style = model(images)
    swapped = model.decode(z_content, z_style.roll(1, dims=0))
    return make_grid([images.cpu(), reconstruction.cpu(), swapped.cpu()])


def progress_fields(row: dict, rate: float) -> dict[str, str]:
    """What the progress bar shows: the loss terms in use and the speed."""
    shown = {"loss": row["loss"], "rec": row["reconstruction"], "mmd": row["mmd_content"] + row["mmd_style"]}
    shown.update({name: row[name] for name in ("style", "content") if row[name]})
    return {**{k: f"{v:.4f}" for k, v in shown.items()}, "img_s": f"{rate:.1f}"}


def check_writable(run_dir: Path) -> None:
    """Fail before training, not at the first checkpoint, when the output folder cannot be written."""
    try:
        run_dir.mkdir(parents=True, exist_ok=True)
        probe = run_dir / ".write-test"
        probe.write_bytes(b"ok")
        probe.unlink()
    except OSError as err:
        raise WaestyleError(f"cannot write to {run_dir}: {err.strerror or err}") from err


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

    `explicit` names the settings the user gave; on resume those must agree with the run's own.
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
    check_writable(run_dir)
    start_step = checkpoint.step if checkpoint else 0
    if start_step >= config.steps:
        raise WaestyleError(f"{run_dir} is already trained for {start_step} steps; pass a larger --steps to go on")

    device = resolve_device(config.device)
    sources = find_sources(config.data)
    dataset = ImageFolderDataset(
        [p for p, _ in sources], model_config.image_size, config.max_pixels, kinds=[k for _, k in sources]
    )
    feature_net = load_feature_network(model_config.features, vgg19_weights)
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(config.seed)  # initial weights depend on the seed alone
        model = WAEStyleModel(model_config, feature_net)
    model.to(device)
    optimizer = torch.optim.Adam(model.trainable_parameters(), lr=config.lr)
    if checkpoint is not None:
        try:
            model.load_state_dict(checkpoint.model, strict=False)
            optimizer.load_state_dict(checkpoint.optimizer)
        except (RuntimeError, ValueError, KeyError) as err:
            raise WaestyleError(f"checkpoint in {run_dir} does not fit its model: {str(err).splitlines()[0]}") from err

    loader = DataLoader(
        dataset,
        batch_sampler=StepBatchSampler(len(dataset), config.batch_size, config.seed, start_step, config.steps),
        num_workers=config.workers,
        pin_memory=device.type == "cuda",
    )
    preview = torch.stack([dataset[i] for i in range(min(8, len(dataset)))]).to(device)
    log = _CsvLog(run_dir / "log.csv", start_step)
    result = TrainResult(run_dir, start_step, config.steps)
    bar = tqdm(total=config.steps, initial=start_step, disable=not progress, unit="step", dynamic_ncols=True)
    started, rate = time.perf_counter(), None
    try:
        for step, images in enumerate(loader, start=start_step):
            tick = time.perf_counter()
            model.train()
            generator = torch.Generator().manual_seed(config.seed * 1_000_003 + step)
            terms = training_losses(model, images.to(device, non_blocking=True), generator, config)
            optimizer.zero_grad(set_to_none=True)
            terms["loss"].backward()
            optimizer.step()
            done = step + 1
            instant = len(images) / max(time.perf_counter() - tick, 1e-9)
            rate = instant if rate is None else 0.9 * rate + 0.1 * instant
            row = {k: v.item() for k, v in terms.items()}
            if not math.isfinite(row["loss"]):
                raise WaestyleError(f"training diverged at step {done} (loss {row['loss']}); try a lower --lr")
            row.update(step=done, images_per_s=round(rate, 2), elapsed_s=round(time.perf_counter() - started, 2))
            result.history.append(row)
            bar.update(1)
            bar.set_postfix(progress_fields(row, rate), refresh=False)
            if done % config.log_every == 0 or done == config.steps:
                log.write(row)
            if done % config.sample_every == 0 or done == config.steps:
                model.eval()
                save_image(sample_grid(model, preview), run_dir / "samples" / f"step-{done:08d}.png")
            if done % config.checkpoint_every == 0 or done == config.steps:
                state = TrainingCheckpoint(
                    done, model_config.to_dict(), asdict(config), model.trainable_state_dict(), optimizer.state_dict()
                )
                save_checkpoint(run_dir, state)
                save_model(run_dir, model_config, model.trainable_state_dict(), done)
    finally:
        bar.close()
        log.close()
    return result


__all__ = ["CHECKPOINT_DIR", "TrainConfig", "TrainResult", "train", "training_losses"]
