"""One batch's loss: reconstruction + WAE-MMD on both latents, and the optional style-consistency terms.

Reconstruction + MMD on z_c and z_s always; a deep-feature reconstruction term with `perceptual_weight`; with
the style-consistency weights, the batch is also decoded with its styles rolled by one, (z_c of A, z_s of B),
and that output is pulled to B's Gram matrices (and feature moments, colours) and to A's deep content features
in `content_net` (default: the style network). With `nested_content`, each image decodes from a random prefix of
z_c (and, with `content_loss_by_size`, owes content in proportion to a power of that prefix's length, and style
in inverse proportion to another). Under torchrun, `images` is this process's shard; the batch-wide terms see
the whole batch (see distributed.py), and the random draws are the whole batch's, so W processes match one.
"""

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

import torch
from torch import nn

from waestyle.core.config import TrainConfig
from waestyle.features import FeatureNetwork
from waestyle.features.distances import content_distance, style_distance
from waestyle.features.style_statistics import StyleStatistics
from waestyle.models.wae import (
    WAEStyleModel,
    content_fill,
    keep_content_channels,
    prior_draw,
    sample_content_sizes,
)
from waestyle.training.distributed import SINGLE, Distributed
from waestyle.training.losses import (
    colour_histogram_distance,
    colour_moment_distance,
    feature_loss,
    imq_mmd,
    latent_samples,
    moment_distance,
    reconstruction_loss,
    total_variation,
)

# Loss terms that are zero unless their weight is set (shown in the progress bar when in use).
OPTIONAL_TERMS = ("style", "moments", "content", "tv", "colour", "histogram")
# The MMD costs N² in the number of samples; a spatial z_c gives B * positions of them.
MMD_MAX_SAMPLES = 1024
# Key of the content network's map of the input batch among the style maps.
CONTENT = "content"


@dataclass
class Encoded:
    """A batch through the encoders: feature maps, latents, and what nested content decodes from."""

    maps: dict[str, torch.Tensor]
    z_style: torch.Tensor
    z_content: torch.Tensor
    all_styles: torch.Tensor  # z_s of the whole batch (all processes)
    z_decode: torch.Tensor  # z_c as decoded: a random prefix of it under nested content
    z_swap: torch.Tensor | None = None  # as decoded with the rolled styles, where the fill is the style's (mosaic)
    sizes: torch.Tensor | None = None
    content_weights: torch.Tensor | None = None
    style_weights: torch.Tensor | None = None
    own_weights: torch.Tensor | None = None


def training_losses(
    model: WAEStyleModel,
    images: torch.Tensor,
    generator: torch.Generator | None,
    config: TrainConfig,
    place: Distributed = SINGLE,
    content_net: FeatureNetwork | None = None,
    style_stats: StyleStatistics | None = None,
) -> dict[str, torch.Tensor]:
    """All loss terms of one batch (see the module docstring); `loss` is the weighted sum that is minimised.
    `style_stats` (config.style_loss's representation) replaces the Gram distance in the style network. The
    random draws come from `generator`, or from the default generator when it is None (as the training loop
    does, seeding it each step, so that a compiled step stays one graph)."""
    content_net = content_net or model.feature_net
    swap = _uses_swap(config)
    encoded = _encode(
        model, images, generator, config, place, content_net, needs_content=swap or config.perceptual_weight > 0
    )
    reconstruction = model.decode(encoded.z_decode, encoded.z_style, encoded.sizes)
    content_samples = latent_samples(place.gather(encoded.z_content), MMD_MAX_SAMPLES, generator)
    device, all_styles = images.device, encoded.all_styles
    zero = torch.zeros((), device=device)
    terms = {
        "reconstruction": reconstruction_loss(reconstruction, images, encoded.own_weights),
        "mmd_content": imq_mmd(content_samples, prior_draw(content_samples, generator)),
        "mmd_style": imq_mmd(all_styles, prior_draw(all_styles, generator)),
        **dict.fromkeys(("perceptual", *OPTIONAL_TERMS), zero),
    }
    if config.perceptual_weight > 0:
        recon_map = content_map(content_net, reconstruction)
        terms["perceptual"] = feature_loss({CONTENT: recon_map}, {CONTENT: encoded.maps[CONTENT]})
    if swap:
        terms.update(_swap_terms(model, images, encoded, generator, config, place, content_net, style_stats))
    terms["loss"] = weighted_sum(terms, config)
    return terms


def _uses_swap(config: TrainConfig) -> bool:
    """Whether any term needs the batch decoded with swapped styles."""
    weights = (config.style_loss_weight, config.moment_loss_weight, config.colour_loss_weight,
               config.colour_histogram_weight, config.content_loss_weight, config.tv_weight)  # fmt: skip
    return any(weight > 0 for weight in weights)


def _encode(
    model: WAEStyleModel,
    images: torch.Tensor,
    generator: torch.Generator | None,
    config: TrainConfig,
    place: Distributed,
    content_net: FeatureNetwork,
    needs_content: bool,
) -> Encoded:
    net, own_content = model.feature_net, content_net is model.feature_net
    # VGG19's content layer lies past its style layers: one pass gives both
    maps = model.style_features(images, (net.content_layer,) if needs_content and own_content else ())
    if needs_content:
        with torch.no_grad():
            maps[CONTENT] = maps[net.content_layer] if own_content else content_map(content_net, images)
    z_style, z_content = model.style_encoder(maps), model.encode_content(images)
    encoded = Encoded(maps, z_style, z_content, place.gather(z_style), z_content)
    if model.config.nested_content:
        _nest(encoded, model, generator, config, place)
    return encoded


def _nest(encoded: Encoded, model: WAEStyleModel, generator: torch.Generator | None, config: TrainConfig,
          place: Distributed) -> None:  # fmt: skip
    """Each image decodes from a random prefix of z_c; with `content_loss_by_size`, per-image loss weights."""
    z_content = encoded.z_content
    sizes = sample_content_sizes(len(encoded.all_styles), z_content.shape[1], generator, z_content.device)
    encoded.sizes = place.shard(sizes)
    # a mosaic fill comes from the style picture's code: each image's own for its reconstruction, its style
    # neighbour's (the batch rolled by one, as the swap rolls the styles) for the swap
    own = z_content.detach() if model.config.content_fill == "mosaic" else None
    fill = content_fill(model.config, z_content, generator, own)
    encoded.z_decode = keep_content_channels(z_content, encoded.sizes, fill)
    if own is not None:
        neighbours = place.shard(place.gather(own).roll(1, dims=0))
        fill = content_fill(model.config, z_content, generator, neighbours)
        encoded.z_swap = keep_content_channels(z_content, encoded.sizes, fill)
    if config.content_loss_by_size:
        # the full z_c keeps full weight; a small code owes less layout and more style
        share = encoded.sizes.to(z_content.dtype) / z_content.shape[1]
        encoded.content_weights = share.pow(config.content_size_power)
        encoded.style_weights = share.pow(-config.style_size_power) if config.style_size_power else None
        encoded.own_weights = share.pow(config.reconstruction_size_power) if config.reconstruction_size_power else None


def _swap_terms(
    model: WAEStyleModel,
    images: torch.Tensor,
    encoded: Encoded,
    generator: torch.Generator | None,
    config: TrainConfig,
    place: Distributed,
    content_net: FeatureNetwork,
    style_stats: StyleStatistics | None = None,
) -> dict[str, torch.Tensor]:
    """Style consistency: the batch decoded with its styles rolled by one, judged against its style images."""
    net, terms = model.feature_net, {}
    z_swap = encoded.z_decode if encoded.z_swap is None else encoded.z_swap
    swapped = model.decode(z_swap, place.shard(encoded.all_styles.roll(1, dims=0)), encoded.sizes)
    needs_images = style_stats is not None or config.colour_loss_weight > 0 or config.colour_histogram_weight > 0
    style_images = place.shard(place.gather(images).roll(1, dims=0)) if needs_images else None
    shared: dict = {}  # the style loss's maps of the swapped batch, by network: the content term may read them
    if style_stats is not None and config.style_loss_weight > 0:
        with torch.no_grad():
            targets = style_stats.statistics(style_images)
        per_image = style_stats.distance(style_stats.statistics(swapped, shared), targets, config.style_floor)
        weights = encoded.style_weights
        terms["style"] = (per_image if weights is None else per_image * weights).mean()
    if (style_stats is None and config.style_loss_weight > 0) or config.moment_loss_weight > 0:
        out_maps = net(swapped, net.style_layers)
        maps = encoded.maps
        targets = {name: place.shard(place.gather(maps[name]).roll(1, dims=0)) for name in net.style_layers}
        if style_stats is None:
            terms["style"] = style_distance(out_maps, targets, net.style_layers, encoded.style_weights)
        terms["moments"] = moment_distance(out_maps, targets, net.style_layers)
    if config.content_loss_weight > 0:
        swapped_map = shared.get(content_net.name, {}).get(content_net.content_layer)
        swapped_map = content_map(content_net, swapped) if swapped_map is None else swapped_map
        terms["content"] = content_distance(swapped_map, encoded.maps[CONTENT], encoded.content_weights)
    terms["tv"] = total_variation(swapped)
    if config.colour_loss_weight > 0 or config.colour_histogram_weight > 0:
        if config.colour_loss_weight > 0:
            terms["colour"] = colour_moment_distance(swapped, style_images)
        if config.colour_histogram_weight > 0:  # its sort is the costly part: only when it counts
            terms["histogram"] = colour_histogram_distance(swapped, style_images, generator)
    return terms


def weighted_sum(terms: dict[str, torch.Tensor], config: TrainConfig) -> torch.Tensor:
    """The minimised loss: each term times its weight from the config."""
    return (
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


def content_map(content_net: FeatureNetwork, images: torch.Tensor) -> torch.Tensor:
    return content_net(images, (content_net.content_layer,))[content_net.content_layer]


class LossModule(nn.Module):
    """The model and its objective as one module, so DistributedDataParallel can wrap a whole step."""

    def __init__(
        self,
        model: WAEStyleModel,
        config: TrainConfig,
        place: Distributed,
        autocast: torch.dtype | None,
        content_net: FeatureNetwork | None = None,
        style_stats: StyleStatistics | None = None,
    ):
        super().__init__()
        self.model, self.config, self.place, self.autocast = model, config, place, autocast
        self.content_net, self.style_stats = content_net, style_stats

    def forward(self, images: torch.Tensor, generator: torch.Generator | None = None) -> dict[str, torch.Tensor]:
        with torch.autocast(images.device.type, dtype=self.autocast, enabled=self.autocast is not None):
            return training_losses(
                self.model, images, generator, self.config, self.place, self.content_net, self.style_stats
            )


@contextmanager
def seeded_draws(seed: int, device: torch.device) -> Iterator[None]:
    """The default generator (host and `device`) seeded with `seed` inside, restored after: a step's random draws
    then depend on its seed alone, and a compiled step stays one graph (an explicit torch.Generator breaks the
    graph at every draw; a draw made on the host and copied to a GPU makes the host wait for the GPU)."""
    with torch.random.fork_rng(devices=[device] if device.type == "cuda" else []):
        torch.manual_seed(seed)
        yield
