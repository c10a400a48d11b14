"""`waestyle evaluate`: load models, images and a judge network, run every method, write a report."""

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import torch

from waestyle.core.devices import resolve_device
from waestyle.core.errors import WaestyleError
from waestyle.data.images import load_image
from waestyle.data.sources import find_images
from waestyle.evaluation.methods import GatysMethod, IdentityMethod, ModelMethod, PeerMethod
from waestyle.evaluation.report import write_report
from waestyle.evaluation.runner import run_evaluation, square_batch
from waestyle.features import load_feature_network
from waestyle.stylize.stylizer import Stylizer

log = logging.getLogger(__name__)
BASELINES = ("gatys", "peer")


@dataclass
class CompareSettings:
    """What to compare and how; `quick` shrinks everything for a smoke test."""

    models: Sequence[Path]
    content_dir: Path
    style_dir: Path
    out: Path
    baselines: Sequence[str] = ()
    quick: bool = False
    size: int | None = None
    content_dims: Sequence[int] | None = None
    max_images: int = 8
    judge: str = "efficientnet-lite2"
    second_judge: str | None = "random-vgg19-judge"
    gatys_iterations: int = 100
    device: str = "cpu"
    vgg19_weights: Path | None = None
    full_only: Sequence[Path] = ()  # models evaluated at their full content size only (e.g. an older reference)


def content_sizes(full: int, nested: bool, wanted: Sequence[int] | None) -> list[int | None]:
    """Sizes to evaluate a model at: the research's five halvings (512..32 for 512), or those asked for."""
    if not nested:
        return [None]
    sizes = [k for k in (wanted or [max(1, full >> i) for i in range(5)]) if 1 <= k <= full]
    return sorted(set(sizes), reverse=True) or [None]


def _load_folder(folder: Path, count: int) -> tuple[list[str], list]:
    names, images = [], []
    for path in find_images([folder]):
        if len(images) == count:
            break
        try:
            images.append(load_image(path))
            names.append(path.name)
        except WaestyleError as err:
            log.warning("skipping %s", err)
    if not images:
        raise WaestyleError(f"{folder}: no readable images")
    return names, images


def compare(settings: CompareSettings, progress: bool = True) -> Path:
    """Evaluate every model (at each content size), the identity and the baselines; returns report.md."""
    unknown = set(settings.baselines) - set(BASELINES)
    if unknown:
        raise WaestyleError(f"unknown baseline {sorted(unknown)[0]!r}; choose from {', '.join(BASELINES)}")
    if not settings.models:
        raise WaestyleError("give at least one --model")
    device = resolve_device(settings.device)
    count = 2 if settings.quick else settings.max_images
    stylizers = [Stylizer.load(m, device=str(device), vgg19_weights=settings.vgg19_weights) for m in settings.models]
    size = settings.size or stylizers[0].image_size
    content_names, content_images = _load_folder(settings.content_dir, count)
    style_names, style_images = _load_folder(settings.style_dir, count)
    contents = square_batch(content_images, size).to(device)
    styles = square_batch(style_images, size).to(device)

    labels = [Path(m).resolve().name for m in settings.models]
    if len(set(labels)) < len(labels):
        labels = [str(m) for m in settings.models]
    methods: list = [IdentityMethod()]
    for model_dir, stylizer, label in zip(settings.models, stylizers, labels, strict=True):
        full = stylizer.config.content_dim
        nested = stylizer.config.nested_content and model_dir not in settings.full_only
        for k in content_sizes(full, nested, settings.content_dims):
            methods.append(ModelMethod(stylizer, label, k))  # k=full is named too, so plots include it
    if "gatys" in settings.baselines:
        net = load_feature_network(stylizers[0].config.features, settings.vgg19_weights).to(device)
        methods.append(GatysMethod(net, iterations=5 if settings.quick else settings.gatys_iterations))
    if "peer" in settings.baselines:
        methods.append(PeerMethod())

    judge = load_feature_network(settings.judge, settings.vgg19_weights).to(device)
    trained_with_judge = [label for s, label in zip(stylizers, labels, strict=True) if s.config.features == judge.name]
    second = load_feature_network(settings.second_judge).to(device) if settings.second_judge else None
    evaluation = run_evaluation(
        methods, contents, styles, content_names, style_names, judge, progress=progress, second_judge=second
    )
    setup = {
        "models": ", ".join(labels),
        "judge network": judge.name
        + (f" (not independent: {', '.join(trained_with_judge)} trained with it)" if trained_with_judge else ""),
        "second judge": second.name if second is not None else "none",
        "image size": f"{size} x {size} (contents resized and centre-cropped)",
        "contents": f"{len(content_names)} from {settings.content_dir}",
        "styles": f"{len(style_names)} from {settings.style_dir}",
        "pairs": len(content_names) * len(style_names),
        "device": f"{device} ({torch.get_num_threads()} threads)" if device.type == "cpu" else str(device),
        "torch": torch.__version__,
    }
    peers = [method for method in methods if isinstance(method, PeerMethod)]
    if peers:  # its int8 graphs answer differently on other CPUs (evaluation/methods.py)
        setup["peer kernels"] = peers[0].kernels
    return write_report(evaluation, settings.out, setup, contents.cpu(), styles.cpu())
