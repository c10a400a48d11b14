"""One model for every content size: with nested dropout, fewer z_c channels means less content."""

import pytest
import torch

from waestyle.core.config import ModelConfig, TrainConfig
from waestyle.core.devices import draw_device
from waestyle.core.errors import WaestyleError
from waestyle.data.samples import photo_crops, procedural_style
from waestyle.evaluation.runner import square_batch
from waestyle.models.wae import content_fill, keep_content_channels, sample_content_sizes
from waestyle.stylize.stylizer import Stylizer
from waestyle.training.loop import train

from .conftest import write_images

SIZES = (16, 8, 4, 2, 1)  # the research's 512 / 256 / 128 / 64 / 32, scaled to a model small enough to train here


@pytest.fixture(scope="module")
def nested_model(tmp_path_factory):
    """A slim global model trained 300 steps (~20 s on 2 cores): enough for the channel order to show."""
    folder = tmp_path_factory.mktemp("nested")
    write_images(folder / "data", 48)
    config = ModelConfig(
        image_size=32, content_dim=16, style_dim=8, nested_content=True, base_channels=16, max_channels=64
    )
    train_config = TrainConfig(
        data=[str(folder / "data")], steps=300, batch_size=16, lr=2e-3, checkpoint_every=300, sample_every=300
    )
    train(config, train_config, folder / "run", progress=False)
    return Stylizer.load(folder / "run")


def test_fewer_content_channels_move_outputs_away_from_the_content(nested_model):
    contents = square_batch(photo_crops(16, seed=5), 32)
    styles = square_batch([procedural_style(seed) for seed in range(4)], 32)

    def reconstruction_distance(k):
        return (nested_model.reconstruct(contents, content_dim=k) - contents).pow(2).mean().item()

    def transfer_distance(k):
        outputs = [nested_model.transfer(contents, style[None], content_dim=k) for style in styles]
        return torch.stack([(out - contents).pow(2).mean() for out in outputs]).mean().item()

    transfers = [transfer_distance(k) for k in SIZES]
    # Each size keeps more content than a quarter of it. Neighbouring octaves are within noise at this scale:
    # over four training seeds the strict order of all five held in two, this one in all four.
    assert all(more < less for more, less in zip(transfers[:-2], transfers[2:], strict=True)), transfers
    # Reconstructions too lose content, though at this size neighbouring k can be within noise.
    assert reconstruction_distance(SIZES[0]) < reconstruction_distance(SIZES[-1])


def test_keep_content_channels_zeroes_the_tail_for_vectors_and_maps():
    vector = torch.ones(2, 6)
    assert keep_content_channels(vector, 4).sum(1).tolist() == [4.0, 4.0]
    assert keep_content_channels(vector, torch.tensor([1, 6])).sum(1).tolist() == [1.0, 6.0]
    spatial = torch.ones(2, 6, 3, 3)
    kept = keep_content_channels(spatial, torch.tensor([2, 5]))
    assert kept[0, :2].eq(1).all() and kept[0, 2:].eq(0).all() and kept[1, :5].eq(1).all()


def test_a_prior_fill_replaces_only_the_dropped_channels():
    spatial, fill = torch.ones(2, 6, 3, 3), torch.full((2, 6, 3, 3), 5.0)
    kept = keep_content_channels(spatial, torch.tensor([2, 6]), fill)
    assert kept[0, :2].eq(1).all() and kept[0, 2:].eq(5).all() and kept[1].eq(1).all()


def test_draws_with_a_host_generator_land_beside_data_on_another_device():
    # As a transfer on a GPU seeds its prior fill with a host generator: drawn on the host, then moved.
    z = torch.zeros(2, 4, 3, 3, device="meta")
    config = ModelConfig(nested_content=True, content_fill="prior")
    assert content_fill(config, z, torch.Generator().manual_seed(0)).device.type == "meta"
    assert sample_content_sizes(8, 64, torch.Generator().manual_seed(0), device="meta").device.type == "meta"
    assert draw_device(None, "meta").type == "meta" and draw_device(torch.Generator(), "meta").type == "cpu"


def test_prior_filled_models_give_the_same_image_twice_and_differ_from_zero_filled(tmp_path, image_dir):
    """Dropped channels drawn from a seeded prior: a transfer is still a function of its inputs."""
    model = ModelConfig(arch="spatial", image_size=32, content_dim=8, style_dim=8, content_stride=4, base_channels=8,
                        nested_content=True, content_fill="prior")  # fmt: skip
    config = TrainConfig(data=[str(image_dir)], steps=3, batch_size=6, checkpoint_every=3, sample_every=3,
                         style_loss_weight=1.0, content_loss_weight=0.5)  # fmt: skip
    train(model, config, tmp_path / "run", progress=False)
    stylizer = Stylizer.load(tmp_path / "run")
    contents = square_batch(photo_crops(2, seed=1), 32)
    style = square_batch([procedural_style(3)], 32)
    first, again = (stylizer.transfer(contents, style, content_dim=2) for _ in range(2))
    assert torch.equal(first, again)
    stylizer.model.config = ModelConfig(**{**model.to_dict(), "content_fill": "zero"})
    assert not torch.allclose(first, stylizer.transfer(contents, style, content_dim=2))
    with pytest.raises(Exception, match="content fill"):
        ModelConfig(content_fill="noise")


def test_content_sizes_give_every_octave_an_equal_share():
    sizes = sample_content_sizes(10_000, 512, torch.Generator().manual_seed(0))
    assert sizes.min() >= 1 and sizes.max() == 512
    for low in (1, 2, 32, 128, 256):
        share = ((sizes >= low) & (sizes < 2 * low)).float().mean()
        assert 0.08 < share < 0.12  # 1/10 each: ten octaves from 1 to 512
        if low >= 32:  # the research's sizes themselves get half of their octave
            assert 0.04 < (sizes == low).float().mean() < 0.06
    assert 0.08 < (sizes == 512).float().mean() < 0.12


def test_a_size_aware_model_decodes_by_the_content_size_it_is_given():
    """The size code reaches the decoder (through z_s) only in a size-aware model, and Stylizer passes --content-dim."""
    from waestyle.features import load_feature_network
    from waestyle.models.wae import WAEStyleModel

    config = ModelConfig(arch="spatial", image_size=32, content_dim=8, style_dim=4, content_stride=4, base_channels=8,
                         features="random-vgg19-quarter", nested_content=True, size_aware=True)  # fmt: skip
    torch.manual_seed(0)
    model = WAEStyleModel(config, load_feature_network(config.features)).eval()
    z_content, z_style = torch.randn(2, 8, 8, 8), torch.randn(2, 4)
    with torch.no_grad():
        # Zero-initialised: a fresh size-aware model ignores the size, like the model it may be tuned from.
        assert torch.equal(model.decode(z_content, z_style, 2), model.decode(z_content, z_style))
        model.size_to_style.weight.fill_(1.0)
        for name, weight in model.named_parameters():  # the style layers, too, start blind to z_s
            if "to_scale_shift.weight" in name:
                weight.normal_(0, 0.1)
        assert torch.equal(model.decode(z_content, z_style, 8), model.decode(z_content, z_style))
        per_image = model.decode(z_content, z_style, torch.tensor([2, 8]))
        assert torch.equal(per_image[0], model.decode(z_content, z_style, 2)[0])
        assert not torch.allclose(per_image[0], model.decode(z_content, z_style)[0])
    with pytest.raises(WaestyleError, match="size-aware"):
        ModelConfig(arch="spatial", size_aware=True)
