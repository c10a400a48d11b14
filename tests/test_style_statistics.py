"""Style representations: zero distance to themselves, gradients to the pixels, and the named losses."""

import pytest
import torch

from waestyle.core.config import STYLE_LOSS_CHOICES, TrainConfig
from waestyle.core.errors import WaestyleError
from waestyle.features.style_statistics import (
    STYLE_LOSSES,
    StyleSpec,
    StyleStatistics,
    load_style_loss,
    sliced_quantiles,
    smooth,
)

QUARTER = "random-vgg19-quarter"


@pytest.mark.parametrize(
    "spec",
    [
        StyleSpec(QUARTER),
        StyleSpec(QUARTER, seeds=(1,), scales=(1.0, 0.5), moments=True),
        StyleSpec(QUARTER, sliced=True),
        StyleSpec("efficientnet-lite0", smoothing=1.0),
    ],
)
def test_a_style_is_at_zero_from_itself_and_a_gradient_moves_others_towards_it(spec):
    stats = StyleStatistics.load(spec)
    generator = torch.Generator().manual_seed(0)
    target = torch.rand(1, 3, 64, 64, generator=generator)
    images = torch.rand(2, 3, 64, 64, generator=generator).requires_grad_(True)
    target_stats = stats.statistics(target)
    assert torch.allclose(stats.distance(target_stats, target_stats), torch.zeros(1))
    before = stats.distance(stats.statistics(images), target_stats)  # one target broadcast to the batch
    assert before.shape == (2,) and (before > 0).all()
    before.sum().backward()
    with torch.no_grad():
        after = stats.distance(stats.statistics(images - 0.01 * images.grad / images.grad.abs().max()), target_stats)
    assert (after < before).all()


def test_seeds_add_networks_and_scales_add_statistics():
    stats = StyleStatistics.load(StyleSpec(QUARTER, seeds=(1, 2), scales=(1.0, 0.5), moments=True))
    assert len(stats.networks) == 3
    # 3 networks x 2 scales x 4 layers x (Gram, moments)
    assert len(stats.statistics(torch.rand(1, 3, 32, 32))) == 3 * 2 * 4 * 2
    first, second = stats.networks[0].features[0].weight, stats.networks[1].features[0].weight
    assert first.shape == second.shape and not torch.equal(first, second)


def test_smoothing_is_a_softmax_with_mean_one_and_sliced_quantiles_are_sorted():
    features = torch.randn(2, 4, 8, 8)
    smoothed = smooth(features, 1.0)
    assert (smoothed > 0).all() and torch.allclose(smoothed.mean(dim=(1, 2, 3)), torch.ones(2))
    # a larger temperature flattens it towards 1 everywhere
    assert smooth(features, 10.0).std() < smoothed.std()
    quantiles = sliced_quantiles(features, torch.eye(4)).view(2, 4, -1)
    assert (quantiles.diff(dim=2) >= 0).all()
    assert torch.allclose(quantiles[..., -1], features.flatten(2).amax(2))


def test_named_style_losses_match_the_config_choices_and_bad_names_are_refused():
    assert tuple(STYLE_LOSSES) == STYLE_LOSS_CHOICES
    assert load_style_loss("") is None
    assert isinstance(load_style_loss(STYLE_LOSS_CHOICES[0]), StyleStatistics)
    with pytest.raises(WaestyleError, match="unknown style loss"):
        load_style_loss("nope")
    with pytest.raises(WaestyleError, match="unknown --style-loss"):
        TrainConfig(style_loss="nope")


def test_a_floor_bounds_a_near_black_style_and_leaves_ordinary_batches_and_single_targets_alone():
    stats = StyleStatistics.load(StyleSpec("pixels", moments=True))
    generator = torch.Generator().manual_seed(0)
    outputs = torch.rand(4, 3, 32, 32, generator=generator)
    styles = torch.rand(4, 3, 32, 32, generator=generator)
    ordinary = stats.distance(stats.statistics(outputs), stats.statistics(styles))
    assert torch.allclose(stats.distance(stats.statistics(outputs), stats.statistics(styles), 0.01), ordinary)
    styles[0] = 0.002  # a near-black style: its colour statistics are close to zero
    unfloored = stats.distance(stats.statistics(outputs), stats.statistics(styles))
    floored = stats.distance(stats.statistics(outputs), stats.statistics(styles), 0.01)
    # The output is as far from black as the batch's median style is from zero: relative distance ~1 to the
    # median, which the floor of 1 % turns into ~100 (at most 1 / floor times that); without it, far more.
    assert unfloored[0] > 100 * floored[0]
    assert 50 < floored[0] < 150
    assert torch.allclose(floored[1:], unfloored[1:])
    # One target for the whole batch (refinement): the median is its own, so the floor changes nothing.
    one = stats.statistics(styles[:1])
    assert torch.allclose(
        stats.distance(stats.statistics(outputs), one, 0.01), stats.distance(stats.statistics(outputs), one)
    )


def test_a_negative_style_floor_is_refused():
    with pytest.raises(WaestyleError, match="not negative"):
        TrainConfig(style_floor=-0.1)


def test_part_weights_give_a_weighted_mean_of_the_parts_and_the_colour_weight_names_the_pixel_part():
    stats = StyleStatistics.load((StyleSpec(QUARTER), StyleSpec("pixels", moments=True)))
    generator = torch.Generator().manual_seed(0)
    out, target = (stats.statistics(torch.rand(2, 3, 32, 32, generator=generator)) for _ in range(2))
    features_only = StyleStatistics.distance({k: v for k, v in out.items() if k.startswith("0/")}, target)
    colours_only = StyleStatistics.distance({k: v for k, v in out.items() if k.startswith("1/")}, target)
    assert torch.allclose(stats.distance(out, target, part_weights=[1, 1]), stats.distance(out, target))
    assert torch.allclose(stats.distance(out, target, part_weights=[0, 2]), colours_only)
    assert torch.allclose(stats.distance(out, target, part_weights=[1, 3]), (features_only + 3 * colours_only) / 4)
    assert stats.part_weights(1.0) is None and stats.part_weights(3.0) == [1.0, 3.0]
    with pytest.raises(WaestyleError, match="part weights"):
        stats.distance(out, target, part_weights=[1])
