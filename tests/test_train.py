"""Training is seeded, resumable to the bit, and actually learns."""

import csv

import pytest
import torch
from safetensors.torch import load_file

from waestyle.core.config import STYLE_LOSS_CHOICES, ModelConfig, TrainConfig
from waestyle.core.errors import WaestyleError
from waestyle.features import load_feature_network
from waestyle.training.checkpoints import checkpoint_files, checkpoint_paths
from waestyle.training.loop import train

SMALL = ModelConfig(image_size=32, content_dim=16, style_dim=8)


def _config(image_dir, **overrides) -> TrainConfig:
    settings = dict(data=[str(image_dir)], steps=4, batch_size=6, checkpoint_every=2, sample_every=4, seed=3)
    return TrainConfig(**{**settings, **overrides})


def _weights(run_dir):
    return load_file(run_dir / "model.safetensors")


def test_same_seed_same_model_and_resume_matches_an_uninterrupted_run(tmp_path, image_dir):
    train(SMALL, _config(image_dir), tmp_path / "a", progress=False)
    train(SMALL, _config(image_dir), tmp_path / "b", progress=False)
    train(SMALL, _config(image_dir, steps=2), tmp_path / "c", progress=False)
    resumed = train(SMALL, _config(image_dir), tmp_path / "c", resume=True, explicit=["steps"], progress=False)
    assert resumed.start_step == 2
    a, b, c = _weights(tmp_path / "a"), _weights(tmp_path / "b"), _weights(tmp_path / "c")
    assert all(torch.equal(a[k], b[k]) for k in a)
    assert all(torch.equal(a[k], c[k]) for k in a)
    other = train(SMALL, _config(image_dir, seed=4), tmp_path / "d", progress=False)
    assert other.history[-1]["loss"] != resumed.history[-1]["loss"]


def test_a_time_limit_stops_with_a_checkpoint_and_resume_finishes_the_same_model(tmp_path, image_dir):
    # A limit of a microsecond stops after the first step; the run then resumes (limit lifted) to the end.
    stopped = train(SMALL, _config(image_dir, max_minutes=1e-8), tmp_path / "c", progress=False)
    assert [h["step"] for h in stopped.history] == [1]
    assert (tmp_path / "c" / "checkpoints" / "step-00000001.safetensors").is_file()
    train(SMALL, _config(image_dir), tmp_path / "c", resume=True, explicit=["max_minutes"], progress=False)
    train(SMALL, _config(image_dir), tmp_path / "a", progress=False)
    a, c = _weights(tmp_path / "a"), _weights(tmp_path / "c")
    assert all(torch.equal(a[k], c[k]) for k in a)


def test_training_writes_log_samples_and_checkpoints(tmp_path, image_dir):
    run = tmp_path / "run"
    train(SMALL, _config(image_dir, steps=4, log_every=1), run, progress=False)
    with (run / "log.csv").open() as handle:
        rows = list(csv.DictReader(handle))
    assert [int(r["step"]) for r in rows] == [1, 2, 3, 4]
    assert all(float(r["images_per_s"]) > 0 for r in rows)
    # The newest two checkpoints stay, each a main file and (above 15 MiB) its parts.
    assert [p.name for p in checkpoint_paths(run)] == ["step-00000002.safetensors", "step-00000004.safetensors"]
    kept = {f.name for path in checkpoint_paths(run) for f in checkpoint_files(path)}
    assert {p.name for p in (run / "checkpoints").iterdir()} == kept
    assert (run / "samples" / "step-00000004.png").is_file()
    assert not list(run.rglob("*.tmp"))


def test_the_loss_falls(tmp_path, image_dir):
    result = train(SMALL, _config(image_dir, steps=40, batch_size=8, lr=2e-3), tmp_path / "run", progress=False)
    first = sum(h["reconstruction"] for h in result.history[:5]) / 5
    last = sum(h["reconstruction"] for h in result.history[-5:]) / 5
    assert last < 0.7 * first
    assert result.history[-1]["loss"] < result.history[0]["loss"]


def test_an_existing_run_needs_resume_and_resume_keeps_the_model(tmp_path, image_dir):
    run = tmp_path / "run"
    train(SMALL, _config(image_dir, steps=2), run, progress=False)
    with pytest.raises(WaestyleError, match="--resume"):
        train(SMALL, _config(image_dir, steps=4), run, progress=False)
    bigger = ModelConfig(image_size=32, content_dim=32, style_dim=8)
    with pytest.raises(WaestyleError, match="--content-dim 32 differs"):
        train(bigger, _config(image_dir, steps=4), run, resume=True, explicit=["content_dim"], progress=False)
    with pytest.raises(WaestyleError, match="already trained for 2 steps"):
        train(SMALL, _config(image_dir, steps=2), run, resume=True, progress=False)


def test_bad_settings_are_refused_before_training(tmp_path, image_dir):
    with pytest.raises(WaestyleError, match="batch-size"):
        _config(image_dir, batch_size=1)
    with pytest.raises(WaestyleError, match="power of two"):
        ModelConfig(image_size=48)
    with pytest.raises(WaestyleError, match="not a folder"):
        train(SMALL, _config(tmp_path / "missing"), tmp_path / "run", progress=False)
    empty = tmp_path / "empty"
    empty.mkdir()
    with pytest.raises(WaestyleError, match="no images"):
        train(SMALL, _config(empty), tmp_path / "run", progress=False)


def test_unreadable_training_images_are_skipped(tmp_path, image_dir):
    data = tmp_path / "data"
    data.mkdir()
    for path in sorted(image_dir.iterdir())[:6]:
        (data / path.name).write_bytes(path.read_bytes())
    (data / "broken.jpg").write_bytes(b"not a jpeg")
    result = train(SMALL, _config(data, steps=2), tmp_path / "run", progress=False)
    assert len(result.history) == 2


def test_several_folders_are_mixed_and_128px_works(tmp_path, image_dir):
    other = tmp_path / "other"
    other.mkdir()
    for path in sorted(image_dir.iterdir())[:3]:
        (other / path.name).write_bytes(path.read_bytes())
    config = _config(image_dir, steps=1, batch_size=2, data=[str(image_dir), str(other)])
    result = train(ModelConfig(image_size=128, content_dim=8, style_dim=4), config, tmp_path / "run", progress=False)
    assert result.history[0]["loss"] > 0


def test_the_default_recipes_options_train_and_weigh_content_by_size(tmp_path, image_dir):
    """Random-VGG features, residual blocks, a style size and content loss by size: the default model's options."""
    model = ModelConfig(arch="spatial", image_size=32, content_dim=8, style_dim=8, content_stride=4, base_channels=8,
                        features="random-vgg19-quarter", res_blocks=2, style_size=64, nested_content=True)  # fmt: skip
    by_size = _config(image_dir, style_loss_weight=1.0, content_loss_weight=0.5, content_loss_by_size=True)
    train(model, by_size, tmp_path / "a", progress=False)
    weights = _weights(tmp_path / "a")
    assert "decoder.residual.3.conv.weight" in weights and not any(k.startswith("feature_net") for k in weights)

    from waestyle.features import load_feature_network
    from waestyle.models.wae import WAEStyleModel
    from waestyle.training.objective import training_losses

    torch.manual_seed(0)
    net = WAEStyleModel(model, load_feature_network(model.features))
    images = torch.rand(6, 3, 32, 32, generator=torch.Generator().manual_seed(1))
    terms = {
        flag: training_losses(net, images, torch.Generator().manual_seed(2), _config(
            image_dir, style_loss_weight=1.0, content_loss_weight=0.5, content_loss_by_size=flag))["content"]
        for flag in (False, True)
    }  # fmt: skip
    # The same draws; each image's content term is scaled by sqrt(k / 8) <= 1, so the total can only shrink.
    assert 0 < terms[True] < terms[False]


def test_issue11_options_train_moments_tv_bilinear_and_a_pretrained_content_network(tmp_path, image_dir):
    """The recipe's later changes: moment and TV terms, bilinear decoder, content judged by pretrained Lite0,
    content weight linear in k; each term is logged and the content net is not saved with the model."""
    model = ModelConfig(arch="spatial", image_size=32, content_dim=8, style_dim=8, content_stride=4, base_channels=8,
                        features="random-vgg19-quarter", nested_content=True, upsample="bilinear")  # fmt: skip
    config = _config(image_dir, style_loss_weight=1.0, content_loss_weight=0.5, content_loss_by_size=True,
                     content_size_power=1.0, moment_loss_weight=1.0, tv_weight=2.0,
                     content_features="efficientnet-lite0", log_every=1)  # fmt: skip
    result = train(model, config, tmp_path / "run", progress=False)
    last = result.history[-1]
    assert last["moments"] > 0 and last["tv"] > 0 and last["content"] > 0 and last["style"] > 0
    assert not any(k.startswith(("feature_net", "content_net")) for k in _weights(tmp_path / "run"))
    with (tmp_path / "run" / "log.csv").open() as handle:
        assert {"moments", "tv"} <= set(next(csv.DictReader(handle)))
    from waestyle.features import load_feature_network
    from waestyle.models.wae import WAEStyleModel
    from waestyle.training.objective import training_losses

    torch.manual_seed(0)
    net = WAEStyleModel(model, load_feature_network(model.features))
    images = torch.rand(6, 3, 32, 32, generator=torch.Generator().manual_seed(1))
    style = {
        power: training_losses(net, images, torch.Generator().manual_seed(2), _config(
            image_dir, style_loss_weight=1.0, content_loss_by_size=True, style_size_power=power))["style"]
        for power in (0.0, 0.5)
    }  # fmt: skip
    # The same draws; each image's style term is scaled by sqrt(8 / k) >= 1, so the total can only grow.
    assert style[0.5] > style[0.0] > 0
    with pytest.raises(WaestyleError, match="upsampling"):
        ModelConfig(upsample="cubic")
    with pytest.raises(WaestyleError, match="content-features"):
        _config(image_dir, content_features="alexnet")


def test_fine_tuning_a_model_with_a_size_aware_decoder_and_colour_and_reconstruction_by_size(tmp_path, image_dir):
    """--init-from starts from a model's weights (new parts at their zero start, so the first outputs match);
    the colour term is logged; the reconstruction term shrinks with k; a mis-shaped change is refused."""
    from waestyle.stylize.stylizer import Stylizer

    model = ModelConfig(arch="spatial", image_size=32, content_dim=8, style_dim=8, content_stride=4, base_channels=8,
                        features="random-vgg19-quarter", nested_content=True)  # fmt: skip
    train(model, _config(image_dir, style_loss_weight=1.0), tmp_path / "base", progress=False)
    tuned = _config(image_dir, steps=1, lr=1e-12, style_loss_weight=1.0, colour_loss_weight=1.0, log_every=1,
                    colour_histogram_weight=1.0, init_from=str(tmp_path / "base"))  # fmt: skip
    # With --init-from, the source's config is the start; only the `explicit` settings are taken from ours.
    aware = ModelConfig(**{**model.to_dict(), "size_aware": True})
    result = train(aware, tuned, tmp_path / "tuned", explicit=["size_aware"], progress=False)
    assert result.history[-1]["colour"] > 0 and result.history[-1]["histogram"] > 0
    base, after = Stylizer.load(tmp_path / "base"), Stylizer.load(tmp_path / "tuned")
    assert after.config.size_aware and after.config.arch == "spatial"
    image = torch.rand(1, 3, 32, 32, generator=torch.Generator().manual_seed(3))
    for k in (8, 2):  # a learning rate of 1e-12: the fine-tuned model still draws what its source drew
        assert torch.allclose(
            base.reconstruct(image, content_dim=k), after.reconstruct(image, content_dim=k), atol=1e-4
        )
    with pytest.raises(WaestyleError, match="do not fit"):
        train(ModelConfig(content_dim=16), tuned, tmp_path / "bad", explicit=["content_dim"], progress=False)
    with pytest.raises(WaestyleError, match="size-aware"):
        from_tuned = _config(image_dir, init_from=str(tmp_path / "tuned"))
        train(ModelConfig(), from_tuned, tmp_path / "refused", explicit=["nested_content"], progress=False)
    assert not (tmp_path / "refused").exists()
    with pytest.raises(WaestyleError, match="no such model folder"):
        train(model, _config(image_dir, init_from=str(tmp_path / "missing")), tmp_path / "refused", progress=False)

    from waestyle.features import load_feature_network
    from waestyle.models.wae import WAEStyleModel
    from waestyle.training.objective import training_losses

    torch.manual_seed(0)
    net = WAEStyleModel(model, load_feature_network(model.features))
    images = torch.rand(6, 3, 32, 32, generator=torch.Generator().manual_seed(1))
    own = {
        power: training_losses(net, images, torch.Generator().manual_seed(2), _config(
            image_dir, content_loss_by_size=True, reconstruction_size_power=power))["reconstruction"]
        for power in (0.0, 1.0)
    }  # fmt: skip
    # The same draws; each image's reconstruction term is scaled by k / 8 <= 1.
    assert 0 < own[1.0] < own[0.0]


def test_a_named_style_loss_trains_and_replaces_the_gram_term(tmp_path, image_dir):
    """--style-loss: the style term is the representation's distance (not the --features Gram distance), and the
    networks it reads are neither trained nor saved."""
    from waestyle.features.style_statistics import load_style_loss
    from waestyle.models.wae import WAEStyleModel
    from waestyle.training.objective import training_losses

    model = ModelConfig(arch="spatial", image_size=32, content_dim=8, style_dim=8, content_stride=4, base_channels=8,
                        features="random-vgg19-quarter", nested_content=True)  # fmt: skip
    name = STYLE_LOSS_CHOICES[0]
    config = _config(image_dir, style_loss_weight=1.0, content_loss_weight=0.5, style_loss=name, log_every=1)
    result = train(model, config, tmp_path / "run", progress=False)
    assert all(h["style"] > 0 for h in result.history)
    assert not any(k.startswith(("feature_net", "style_stats")) for k in _weights(tmp_path / "run"))
    torch.manual_seed(0)
    net = WAEStyleModel(model, load_feature_network(model.features))
    images = torch.rand(6, 3, 32, 32, generator=torch.Generator().manual_seed(1))
    terms = [training_losses(net, images, torch.Generator().manual_seed(2), config, style_stats=stats)["style"]
             for stats in (None, load_style_loss(name))]  # fmt: skip
    assert terms[0] > 0 and terms[1] > 0 and terms[0] != terms[1]


def test_bf16_on_a_cpu_without_bf16_instructions_warns_that_it_is_emulated(monkeypatch, caplog):
    from waestyle.training.loop import autocast_dtype

    cpu = torch.device("cpu")
    monkeypatch.setattr(torch.cpu, "_is_avx512_bf16_supported", lambda: False, raising=False)
    monkeypatch.setattr(torch.cpu, "_is_amx_tile_supported", lambda: False, raising=False)
    assert autocast_dtype("bf16", cpu) is torch.bfloat16  # asked for, it is still used
    assert "emulated" in caplog.text
    caplog.clear()
    assert autocast_dtype("auto", cpu) is None and autocast_dtype("fp32", cpu) is None and not caplog.text
    monkeypatch.setattr(torch.cpu, "_is_avx512_bf16_supported", lambda: True, raising=False)
    assert autocast_dtype("bf16", cpu) is torch.bfloat16 and not caplog.text


def test_snapshots_keep_half_precision_model_folders_at_the_given_steps(tmp_path, image_dir):
    from waestyle.models.io import load_model

    run = tmp_path / "run"
    train(SMALL, _config(image_dir, snapshots="2, 4"), run, progress=False)
    assert sorted(p.name for p in (run / "snapshots").iterdir()) == ["step-00000002", "step-00000004"]
    _, last = load_model(run / "snapshots" / "step-00000004")
    _, early = load_model(run / "snapshots" / "step-00000002")
    final = _weights(run)
    name = next(k for k, v in final.items() if v.is_floating_point() and v.numel() > 100)
    assert load_file(run / "snapshots" / "step-00000004" / "model.safetensors")[name].dtype == torch.float16
    torch.testing.assert_close(last[name], final[name], atol=2e-3, rtol=2e-3)  # the same weights, in float16
    assert not torch.allclose(early[name], final[name])
    with pytest.raises(WaestyleError, match="--snapshots"):
        _config(image_dir, snapshots="500,two")
