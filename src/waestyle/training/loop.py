"""The training loop: reconstruction + WAE-MMD on both latents, seeded, resumable, logged.

Read top to bottom: set-up (model, optimiser, maybe a checkpoint), then one loop of
batch -> losses -> update -> log / sample / checkpoint.
"""

import csv
import logging
import math
import tempfile
import time
from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path

import torch
from torch import nn
from torch.nn.parallel import DistributedDataParallel
from torch.utils.data import DataLoader
from tqdm import tqdm

from waestyle.core.bundled import DEFAULT_MODEL
from waestyle.core.config import RESUMABLE_CHANGES, ModelConfig, TrainConfig
from waestyle.core.devices import native_bf16, resolve_device
from waestyle.core.errors import WaestyleError
from waestyle.data.folders import build_dataset
from waestyle.data.images import make_grid, save_image
from waestyle.features import load_feature_network, load_loss_network
from waestyle.features.style_statistics import load_style_loss
from waestyle.models.io import CONFIG_FILE, load_model, load_model_config, save_model, too_large_for_float16
from waestyle.models.wae import WAEStyleModel
from waestyle.training.checkpoints import TrainingCheckpoint, latest_checkpoint, save_checkpoint
from waestyle.training.device_data import DeviceBatches, load_to_device, stored_side
from waestyle.training.distributed import Distributed, setup_distributed, teardown_distributed
from waestyle.training.objective import OPTIONAL_TERMS, LossModule, seeded_draws
from waestyle.training.sampler import StepBatchSampler

log = logging.getLogger(__name__)
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


@dataclass
class TrainResult:
    run_dir: Path
    start_step: int
    steps: int
    history: list[dict] = field(default_factory=list)


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
    model.load_state_dict(weights, strict=False)  # load_model gives float32, whatever the file stores


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
        run = _set_up(model_config, config, run_dir, checkpoint, place, device, vgg19_weights)
        result = _train_loop(run, model_config, config, run_dir, place, progress)
    except BaseException:
        teardown_distributed(place, wait=False)
        raise
    teardown_distributed(place)
    return result


def autocast_dtype(precision: str, device: torch.device) -> torch.dtype | None:
    """bf16 autocast where asked (auto: on CUDA only); None means full fp32."""
    if precision == "bf16" and not native_bf16(device):
        log.warning("--precision bf16 on a CPU without bf16 instructions (AVX-512 bf16 or AMX) is emulated and "
                    "runs many times slower than fp32 here; --precision auto uses fp32")  # fmt: skip
    if precision == "bf16" or (precision == "auto" and device.type == "cuda"):
        return torch.bfloat16
    return None


@dataclass
class _Run:
    """What the loop needs: the model and its optimiser, the step function, the data and where things go."""

    model: WAEStyleModel
    optimizer: torch.optim.Optimizer
    step_fn: nn.Module
    loader: DataLoader
    memory_format: torch.memory_format
    preview: torch.Tensor | None  # eight training images, for the sample grids (main process only)
    start_step: int
    device: torch.device


def _train_loop(
    run: _Run, model_config: ModelConfig, config: TrainConfig, run_dir: Path, place: Distributed, progress: bool
) -> TrainResult:
    """Batch -> losses -> update -> log / sample / checkpoint, from the run's start step to `config.steps`."""
    start_step, device = run.start_step, run.device
    log = _CsvLog(run_dir / "log.csv", start_step) if place.is_main else None
    result = TrainResult(run_dir, start_step, config.steps)
    bar = tqdm(total=config.steps, initial=start_step, disable=not (progress and place.is_main), unit="step",
               dynamic_ncols=True)  # fmt: skip
    started, rate = time.perf_counter(), None
    step_end = started
    try:
        for step, images in enumerate(run.loader, start=start_step):
            terms = _step(run, images.to(device, non_blocking=True, memory_format=run.memory_format), step, config)
            done = step + 1
            # Every process stops at the same step: the time limit counts if any process has passed it.
            late = float(0 < config.max_minutes * 60 <= time.perf_counter() - started)
            row = place.mean({**{k: v.item() for k, v in terms.items()}, "late": late})  # waits for the device
            # Throughput of all processes together: the global batch over the wall time since the last step
            # ended (batch, step, bookkeeping). Timing the step call alone on a GPU would time kernel launches.
            now = time.perf_counter()
            instant, step_end = config.batch_size / max(now - step_end, 1e-9), now
            rate = instant if rate is None else 0.9 * rate + 0.1 * instant
            stop = row.pop("late") > 0
            if not math.isfinite(row["loss"]):
                raise WaestyleError(f"training diverged at step {done} (loss {row['loss']}); try a lower --lr")
            row.update(step=done, images_per_s=round(rate, 2), elapsed_s=round(time.perf_counter() - started, 2))
            result.history.append(row)
            bar.update(1)
            bar.set_postfix(progress_fields(row, rate), refresh=False)
            if place.is_main:
                _record(run, row, done, model_config, config, run_dir, log, last=stop or done == config.steps)
            if stop:
                break
    finally:
        bar.close()
        if log is not None:
            log.close()
    return result


def _set_up(
    model_config: ModelConfig,
    config: TrainConfig,
    run_dir: Path,
    checkpoint: TrainingCheckpoint | None,
    place: Distributed,
    device: torch.device,
    vgg19_weights: str | Path | None,
) -> _Run:
    """The model (new, fine-tuned or resumed), its optimiser, the step function and the batches."""
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
        content_net = load_loss_network(config.content_features, vgg19_weights).to(device)
    style_stats = load_style_loss(config.style_loss)
    if style_stats is not None:
        style_stats.to(device)
    step_fn: nn.Module = LossModule(
        model, config, place, autocast_dtype(config.precision, device), content_net, style_stats
    )
    if place.world_size > 1:
        # The frozen CNN's buffers never change, so there is nothing to broadcast each step.
        step_fn = DistributedDataParallel(
            step_fn, device_ids=[device] if device.type == "cuda" else None, broadcast_buffers=False
        )
    if config.compile:
        step_fn = torch.compile(step_fn)
    start_step = checkpoint.step if checkpoint else 0
    loader, preview = _batches(model_config, config, start_step, place, device)
    return _Run(model, optimizer, step_fn, loader, memory_format, preview, start_step, device)


def _batches(
    model_config: ModelConfig, config: TrainConfig, start_step: int, place: Distributed, device: torch.device
) -> tuple[Iterable[torch.Tensor], torch.Tensor | None]:
    """This process's batches from `start_step` on, and eight images for the sample grids (main process)."""
    size = model_config.image_size
    if config.device_data:
        dataset = build_dataset(config.data, stored_side(size), config.max_pixels)
        images = load_to_device(dataset, device, config.workers, progress=place.is_main)
        loader = DeviceBatches(images, size, config.batch_size, config.seed, start_step, config.steps, place)
    else:
        dataset = build_dataset(config.data, size, config.max_pixels)
        sampler = StepBatchSampler(len(dataset), config.batch_size, config.seed, start_step, config.steps, place)
        loader = DataLoader(dataset, batch_sampler=sampler, num_workers=config.workers,
                            pin_memory=device.type == "cuda", persistent_workers=config.workers > 0)  # fmt: skip
    # Eight images spread over the data set (its folders in order), so the preview shows every kind of image.
    spread = sorted({i * len(dataset) // 8 for i in range(8)})
    preview = torch.stack([dataset[i] for i in spread]).to(device) if place.is_main else None
    if preview is not None and preview.shape[-1] != size:
        preview = torch.nn.functional.interpolate(preview, size=(size, size), mode="bilinear", antialias=True)
    return loader, preview


def _step(run: _Run, images: torch.Tensor, step: int, config: TrainConfig) -> dict[str, torch.Tensor]:
    """One optimiser update; its random draws depend on the seed and the step alone (so resume is exact)."""
    run.model.train()
    with seeded_draws(config.seed * 1_000_003 + step, run.device):
        terms = run.step_fn(images)
    run.optimizer.zero_grad(set_to_none=True)
    terms["loss"].backward()
    if config.grad_clip > 0:
        torch.nn.utils.clip_grad_norm_(run.model.trainable_parameters(), config.grad_clip)
    run.optimizer.step()
    return terms


def _snapshot(weights: dict[str, torch.Tensor], model_config: ModelConfig, run_dir: Path, done: int) -> None:
    """A model folder of step `done` kept in RUN_DIR/snapshots (float16 where every weight fits: half the file)."""
    fits = not too_large_for_float16(weights)
    folder = run_dir / "snapshots" / f"step-{done:08d}"
    try:
        folder.mkdir(parents=True, exist_ok=True)
        save_model(folder, model_config, weights, done, dtype=torch.float16 if fits else None)
    except OSError as err:
        raise WaestyleError(f"cannot write the step-{done} snapshot to {folder}: {err.strerror or err}") from err


def _record(run: _Run, row: dict, done: int, model_config: ModelConfig, config: TrainConfig, run_dir: Path,
            log: "_CsvLog", last: bool) -> None:  # fmt: skip
    """The main process's bookkeeping after step `done` (`last`: the run's final step, or the time is up): log
    row, sample grid, checkpoint and model folder."""
    try:
        if done % config.log_every == 0 or last:
            log.write(row)
        if done % config.sample_every == 0 or last:
            run.model.eval()
            save_image(sample_grid(run.model, run.preview), run_dir / "samples" / f"step-{done:08d}.png")
    except OSError as err:  # disk full between checkpoints: the last one is intact
        raise WaestyleError(
            f"cannot write the step-{done} log or sample grid to {run_dir}: {err.strerror or err}; "
            "the last checkpoint is intact, free space and continue with --resume"
        ) from err
    if done in config.snapshot_steps():
        _snapshot(run.model.trainable_state_dict(), model_config, run_dir, done)
    if done % config.checkpoint_every == 0 or last:
        weights = run.model.trainable_state_dict()
        state = TrainingCheckpoint(done, model_config.to_dict(), asdict(config), weights, run.optimizer.state_dict())
        try:
            save_checkpoint(run_dir, state)
            save_model(run_dir, model_config, weights, done)
        except OSError as err:  # disk full, folder removed: earlier checkpoints are intact (atomic writes)
            raise WaestyleError(
                f"cannot write the step-{done} checkpoint to {run_dir}: {err.strerror or err}; "
                "the previous checkpoint is intact, free space and continue with --resume"
            ) from err
