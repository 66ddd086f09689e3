"""Tests of the C3D network (c3d.py): its layer names and the weights files it loads, each
layout with the input convention that C3DExtractor gives it."""

import numpy as np
import pytest
import torch

from action2vec import Action2VecError
from action2vec.c3d import C3D, C3D_INPUT, convert_mmaction2, load_c3d_weights
from action2vec.extractors import C3DExtractor
from action2vec.files import file_sha256
from action2vec.shards import read_attrs, write_shard

PORT_KEYS = {f"{name}.{p}" for name in ("conv1", "conv2", "conv3a", "conv3b", "conv4a", "conv4b",
                                        "conv5a", "conv5b", "fc6", "fc7", "fc8")
             for p in ("weight", "bias")}


def test_state_dict_uses_the_port_layer_names():
    state = C3D().state_dict()
    assert set(state) == PORT_KEYS
    assert tuple(state["conv1.weight"].shape) == (64, 3, 3, 3, 3)
    assert tuple(state["fc6.weight"].shape) == (4096, 8192)
    assert tuple(state["fc8.weight"].shape) == (487, 4096)


@pytest.fixture(scope="module")
def layouts(tmp_path_factory):
    """The same C3D weights saved as the port's state_dict, an mmaction2 recognizer checkpoint
    (keys backbone.*, a cls_head) and an mmaction2 backbone file (keys conv1a.conv.*):
    (network, folder, {file name: layout})."""
    source = C3D().eval()
    tmp_path = tmp_path_factory.mktemp("layouts")
    torch.save(source.state_dict(), tmp_path / "port.pth")
    renamed = {"conv1": "conv1a", "conv2": "conv2a"}
    backbone = {}
    for key, value in source.state_dict().items():
        layer, param = key.split(".")
        if layer.startswith("conv"):
            backbone[f"{renamed.get(layer, layer)}.conv.{param}"] = value
        elif layer in ("fc6", "fc7"):
            backbone[key] = value
    recognizer = {f"backbone.{key}": value for key, value in backbone.items()}
    recognizer["cls_head.fc_cls.weight"] = torch.zeros(101, 4096)
    torch.save({"state_dict": recognizer, "meta": {}}, tmp_path / "mm.pth")
    torch.save(backbone, tmp_path / "mm_backbone.pth")
    return source, tmp_path, {"port.pth": "port", "mm.pth": "mmaction2",
                              "mm_backbone.pth": "mmaction2"}


def test_loads_the_port_and_mmaction2_layouts(layouts):
    source, tmp_path, files = layouts
    mm = torch.load(tmp_path / "mm.pth", weights_only=True)
    assert set(convert_mmaction2(mm)) == PORT_KEYS - {"fc8.weight", "fc8.bias"}
    for name, layout in files.items():
        net = C3D()
        assert load_c3d_weights(net, tmp_path / name) == (layout, file_sha256(tmp_path / name))
        assert torch.equal(net.fc7.weight, source.fc7.weight)


def test_each_layout_gets_its_channel_order_and_mean(layouts):
    """The port (Caffe Sports-1M) wants BGR minus the Sports-1M mean; mmaction2 wants RGB minus
    (104, 117, 128). Both files hold the same weights, so each features() must equal the network
    applied to the input its layout prescribes."""
    source, tmp_path, _ = layouts
    rgb = np.zeros((1, 16, 112, 112, 3), np.uint8)
    rgb[..., :] = (104, 117, 128)  # mmaction2's mean: its network input is all zeros
    rgb[:, :, :56, :, :] = (200, 100, 30)  # and a strongly coloured top half
    port, mm = (C3DExtractor(weights=tmp_path / name) for name in ("port.pth", "mm.pth"))
    assert port.weights_info["weights_layout"] == "port"
    assert mm.weights_info["weights_layout"] == "mmaction2"
    assert port.weights_info["input_channels"] == "BGR" and mm.weights_info["input_channels"] == "RGB"
    assert port.weights_info["input_mean"] == pytest.approx(C3D_INPUT["port"]["mean"])
    assert mm.weights_info["input_mean"] == pytest.approx(C3D_INPUT["mmaction2"]["mean"])
    prepared = {"port": port.prepare(rgb[0]), "mmaction2": mm.prepare(rgb[0])}
    assert (prepared["port"] == rgb[0][..., ::-1]).all() and (prepared["mmaction2"] == rgb[0]).all()
    expected = torch.from_numpy(np.stack(
        [prepared[layout].astype(np.float32) - np.float32(C3D_INPUT[layout]["mean"])
         for layout in ("port", "mmaction2")])).permute(0, 4, 1, 2, 3)
    assert (expected[1, :, :, 56:] == 0).all()
    with torch.inference_mode():
        want = np.concatenate([source(expected[:1]).numpy(), source(expected[1:]).numpy()])
    got = np.concatenate([port.features(prepared["port"][None]),
                          mm.features(prepared["mmaction2"][None])])
    np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-5 * np.abs(want).max())
    assert np.abs(got[0] - got[1]).max() > 1e-2  # the two conventions really differ
    write_shard(tmp_path / "shard.h5", ["v"], ["c"], [got[:1]], port.weights_info)
    attrs = read_attrs(tmp_path / "shard.h5")  # the shards carry the preprocessing
    assert attrs["input_channels"] == "BGR" and attrs["input_mean"] == port.weights_info["input_mean"]


def test_refuses_a_file_that_does_not_fit(tmp_path):
    state = C3D().state_dict()
    state["fc6.weight"] = torch.zeros(10, 10)
    torch.save(state, tmp_path / "bad.pth")
    with pytest.raises(Action2VecError, match="does not fit C3D.*fc6.weight"):
        load_c3d_weights(C3D(), tmp_path / "bad.pth")
    torch.save({"something": torch.zeros(1)}, tmp_path / "other.pth")
    with pytest.raises(Action2VecError, match="other.pth: unrecognised C3D weights layout"):
        load_c3d_weights(C3D(), tmp_path / "other.pth")
    torch.save([torch.zeros(1)], tmp_path / "list.pth")
    with pytest.raises(Action2VecError, match="list.pth holds a list"):
        load_c3d_weights(C3D(), tmp_path / "list.pth")
    (tmp_path / "junk.pth").write_text("junk")
    with pytest.raises(Action2VecError, match="cannot read"):
        load_c3d_weights(C3D(), tmp_path / "junk.pth")


def test_refuses_a_file_holding_code_with_one_line_and_no_advice_to_load_it(tmp_path):
    """torch's refusal advises weights_only=False or allowing the object: both would run it."""
    from conftest import RunsCode

    marker = tmp_path / "ran"
    torch.save({"conv1.weight": RunsCode(marker)}, tmp_path / "code.pth")
    with pytest.raises(Action2VecError) as error:
        load_c3d_weights(C3D(), tmp_path / "code.pth")
    message = str(error.value)
    assert message == (f"features.weights: {tmp_path / 'code.pth'} holds the Python object "
                       "getattr, not only tensors: refused, as loading it could run code; save "
                       "the weights alone (torch.save(model.state_dict(), path))")
    assert not marker.exists()
    (tmp_path / "junk.pth").write_bytes(b"\x80\x02junk")
    with pytest.raises(Action2VecError) as error:
        load_c3d_weights(C3D(), tmp_path / "junk.pth")
    assert str(error.value).startswith(f"features.weights: cannot read {tmp_path / 'junk.pth'} "
                                       "as a PyTorch weights file (torch.save of a state_dict): ")
    assert "\n" not in str(error.value) and "weights_only" not in str(error.value)
