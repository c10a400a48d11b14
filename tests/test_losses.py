"""The WAE-MMD penalty tells a matching latent distribution from a mismatched one."""

import torch

from waestyle.training.losses import feature_loss, imq_mmd, reconstruction_loss


def test_mmd_is_near_zero_for_the_prior_and_large_for_a_shifted_distribution():
    g = torch.Generator().manual_seed(0)
    prior = torch.randn(256, 16, generator=g)
    same = torch.randn(256, 16, generator=g)
    shifted = torch.randn(256, 16, generator=g) * 0.3 + 2.0
    assert abs(imq_mmd(same, prior).item()) < 0.02
    assert imq_mmd(shifted, prior).item() > 1.0
    assert imq_mmd(shifted, prior).item() > 50 * abs(imq_mmd(same, prior).item())


def test_mmd_is_symmetric_and_differentiable():
    g = torch.Generator().manual_seed(1)
    z = torch.randn(32, 8, generator=g).add(1.0).requires_grad_()
    prior = torch.randn(32, 8, generator=g)
    value = imq_mmd(z, prior)
    assert torch.allclose(value, imq_mmd(prior, z.detach()))
    value.backward()
    # Gradient descent on z must pull the mean back towards the prior's 0.
    assert (z.grad.mean(0) > 0).float().mean() > 0.8


def test_reconstruction_and_feature_losses():
    a = torch.zeros(2, 3, 8, 8)
    assert reconstruction_loss(a, a).item() == 0
    assert torch.isclose(reconstruction_loss(a + 0.5, a), torch.tensor(0.25))
    maps = {"x": torch.ones(1, 2, 3, 3), "y": torch.zeros(1, 4, 2, 2)}
    shifted = {"x": maps["x"] + 1, "y": maps["y"] + 2}
    assert torch.isclose(feature_loss(shifted, maps), torch.tensor(2.5))


def test_moment_distance_sees_mean_and_spread_but_not_layout():
    from waestyle.training.losses import moment_distance

    g = torch.Generator().manual_seed(0)
    target = {"a": torch.rand(2, 4, 8, 8, generator=g)}
    shuffled = {"a": target["a"].flatten(2)[..., torch.randperm(64, generator=g)].reshape(2, 4, 8, 8)}
    assert moment_distance(shuffled, target, ("a",)).item() < 1e-6  # same statistics, other layout
    brighter, flatter = {"a": target["a"] + 0.5}, {"a": target["a"].mean((2, 3), keepdim=True).expand(2, 4, 8, 8)}
    assert moment_distance(brighter, target, ("a",)).item() > 0.1
    assert moment_distance(flatter, target, ("a",)).item() > 0.01


def test_total_variation_is_zero_for_flat_and_large_for_stripes():
    from waestyle.training.losses import total_variation

    flat = torch.full((1, 3, 8, 8), 0.3)
    stripes = torch.zeros(1, 3, 8, 8)
    stripes[..., ::2] = 1.0
    assert total_variation(flat).item() == 0
    assert torch.isclose(total_variation(stripes), torch.tensor(1.0))


def test_colour_terms_see_the_palette_not_the_layout():
    """Both colour terms are zero for the same pixels in another order and grow as the palettes part."""
    from waestyle.training.losses import colour_histogram_distance, colour_moment_distance

    images = torch.rand(2, 3, 16, 16, generator=torch.Generator().manual_seed(0))
    shuffled = images.flatten(2)[..., torch.randperm(256, generator=torch.Generator().manual_seed(1))].reshape(
        images.shape
    )
    bluer = (images + torch.tensor([0.0, 0.0, 0.3])[:, None, None]).clamp(0, 1)
    bluest = (images + torch.tensor([0.0, 0.0, 0.6])[:, None, None]).clamp(0, 1)
    for distance in (
        colour_moment_distance,
        lambda a, b: colour_histogram_distance(a, b, torch.Generator().manual_seed(2)),
    ):
        assert distance(shuffled, images).item() < 1e-5
        assert 0 < distance(bluer, images) < distance(bluest, images)
    # A two-colour image against its grey average: same mean, the histogram tells them apart.
    split = torch.zeros(1, 3, 8, 8)
    split[..., :4] = 1.0
    grey = torch.full((1, 3, 8, 8), 0.5)
    assert colour_histogram_distance(grey, split, torch.Generator().manual_seed(3)) > 0.2
