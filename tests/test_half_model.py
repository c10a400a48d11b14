"""`waestyle export --half`: a model folder with float16 weights, half the file, that computes as before."""

import torch

from waestyle.cli.export import output_difference
from waestyle.cli.main import main
from waestyle.models.io import WEIGHTS_FILE, load_model, model_step
from waestyle.stylize.stylizer import Stylizer


def test_half_folder_is_half_the_size_and_draws_the_same(tmp_path, capsys, spatial_model):
    out = tmp_path / "half"
    assert main(["export", "--model", str(spatial_model), "--half", str(out)]) == 0
    printed = capsys.readouterr().out
    assert "differs from float32 by" in printed
    size, full_size = ((folder / WEIGHTS_FILE).stat().st_size for folder in (out, spatial_model))
    assert size < 0.55 * full_size
    assert model_step(out) == model_step(spatial_model)

    _, weights = load_model(out)  # stored float16, handed out as float32
    assert {w.dtype for w in weights.values() if w.is_floating_point()} == {torch.float32}
    _, original = load_model(spatial_model)
    assert all(torch.allclose(weights[k], original[k], rtol=1e-3, atol=1e-6) for k in original)

    stylizers = [Stylizer.load(f, precision="fp32", backend="torch") for f in (spatial_model, out)]
    mean, largest = output_difference(*stylizers, size=64)
    assert mean < 0.5 and largest <= 4


def test_half_refuses_to_overwrite_or_to_mix_with_web(tmp_path, capsys, spatial_model):
    out = tmp_path / "half"
    assert main(["export", "--model", str(spatial_model), "--half", str(out)]) == 0
    capsys.readouterr()
    assert main(["export", "--model", str(spatial_model), "--half", str(out)]) == 1
    assert "pass --overwrite" in capsys.readouterr().err
    assert main(["export", "--model", str(spatial_model), "--half", str(out), "--overwrite"]) == 0
    capsys.readouterr()
    assert main(["export", "--model", str(spatial_model), "--half", str(out), "--web", str(tmp_path / "s")]) == 1
    assert "give one of them" in capsys.readouterr().err
