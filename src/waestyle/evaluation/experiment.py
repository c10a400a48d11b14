"""`waestyle experiment paper`: the research's two experiments, as one repeatable, numeric run.

The research trained the global model on one domain (CelebA) and on a diverse mix (CelebA + anime +
ImageNet), and compared content sizes 512/256/128/64/32 by eye, one model per size. Here each data
regime trains one *nested* model (`--nested-content`), evaluated at each of the five content sizes,
and both regimes go into one `waestyle evaluate` report. A regime already trained in OUT is reused;
one trained for fewer steps is resumed.
"""

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from waestyle.core.config import ModelConfig, TrainConfig
from waestyle.core.errors import WaestyleError
from waestyle.data.sources import parse_data_spec
from waestyle.evaluation.compare import CompareSettings, compare
from waestyle.models.io import CONFIG_FILE, model_step
from waestyle.training.checkpoints import latest_checkpoint
from waestyle.training.loop import train


@dataclass
class PaperSettings:
    single: Sequence[str]
    mixed: Sequence[str]
    out: Path
    steps: int = 2000
    image_size: int = 64
    content_dim: int = 512
    style_dim: int = 64
    batch_size: int = 32
    content_dir: Path | None = None
    style_dir: Path | None = None
    baselines: Sequence[str] = ()
    quick: bool = False
    max_images: int = 8


def _trained_steps(run_dir: Path) -> int:
    if not (run_dir / CONFIG_FILE).is_file():
        return 0
    checkpoint = latest_checkpoint(run_dir)
    if checkpoint is not None:
        return checkpoint.step
    return model_step(run_dir)


def run_paper(settings: PaperSettings, progress: bool = True) -> Path:
    """Train (or reuse) one nested model per data regime, then evaluate both; returns report.md."""
    if not settings.single or not settings.mixed:
        raise WaestyleError("give --data-single and at least one --data-mixed")
    model = ModelConfig(
        arch="global",
        image_size=settings.image_size,
        content_dim=settings.content_dim,
        style_dim=settings.style_dim,
        nested_content=True,
    )
    runs = []
    for name, data in (("single-domain", settings.single), ("mixed", settings.mixed)):
        run_dir = settings.out / "runs" / name
        done = _trained_steps(run_dir)
        if done < settings.steps:
            every = max(1, settings.steps // 4)
            config = TrainConfig(
                data=[str(d) for d in data],
                steps=settings.steps,
                batch_size=settings.batch_size,
                checkpoint_every=every,
                sample_every=every,
            )
            train(model, config, run_dir, resume=done > 0, explicit=["steps"], progress=progress)
        runs.append(run_dir)
    sizes = [settings.content_dim >> i for i in range(5)]
    content_dir = settings.content_dir or parse_data_spec(settings.single[0])[1]
    style_dir = settings.style_dir or parse_data_spec(settings.mixed[-1])[1]
    return compare(
        CompareSettings(
            models=runs,
            content_dir=content_dir,
            style_dir=style_dir,
            out=settings.out / "report",
            baselines=settings.baselines,
            quick=settings.quick,
            content_dims=[k for k in sizes if k >= 1],
            max_images=settings.max_images,
        ),
        progress=progress,
    )
