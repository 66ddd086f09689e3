import math
import os
import pickle

import numpy as np
import pytest
import torch

from action2vec import Action2VecError
from action2vec.model import (HRNN, HRNNConfig, dual_loss, lambda_at, load_model,
                              pairwise_ranking_loss, save_model)

from conftest import RunsCode


def small(attention=16, **kw):
    torch.manual_seed(0)
    return HRNN(HRNNConfig(input_dim=12, embed_dim=5, n_classes=4, chunk=3, lstm1=10, lstm2=8,
                           attention=attention, dropout=0.0, **kw)).eval()


def padded_batch(lengths, steps=8, dim=12):
    x = torch.randn(len(lengths), steps, dim)
    lengths = torch.tensor(lengths)
    x[torch.arange(steps)[None] >= lengths[:, None]] = 0
    return x, lengths


@pytest.mark.parametrize("attention", [16, 0])
def test_hrnn_shapes_with_padded_sequences(attention):
    model = small(attention)
    x, lengths = padded_batch([8, 5, 1])  # 8 steps in chunks of 3: the tail chunk is padded
    embedding, logits = model(x, lengths)
    assert embedding.shape == (3, 5) and logits.shape == (3, 4)
    assert torch.isfinite(embedding).all()


@pytest.mark.parametrize("attention", [16, 0])
def test_padding_does_not_change_the_embedding(attention):
    model = small(attention)
    x, lengths = padded_batch([4, 7])
    longer = torch.cat([x, torch.zeros(2, 6, 12)], dim=1)  # more zero steps after the end
    assert torch.allclose(model.embed(x, lengths), model.embed(longer, lengths), atol=1e-6)
    changed = x.clone()
    changed[0, 4:] = 5.0  # garbage beyond the true length of video 0 is ignored
    assert torch.allclose(model.embed(x, lengths)[0], model.embed(changed, lengths)[0], atol=1e-6)


@pytest.mark.parametrize("kind", ["stacked", "single"])
def test_ablation_kinds_embed_padded_sequences(kind):
    model = small(0, kind=kind)
    x, lengths = padded_batch([8, 5, 1])
    embedding, logits = model(x, lengths)
    assert embedding.shape == (3, 5) and logits.shape == (3, 4)
    longer = torch.cat([x, torch.zeros(3, 4, 12)], dim=1)
    assert torch.allclose(model.embed(x, lengths), model.embed(longer, lengths), atol=1e-6)
    assert (model.lstm2 is None) == (kind == "single")


def test_sub_sequences_share_lstm1_and_carry_no_state():
    model = small(0)
    x, lengths = padded_batch([6])
    swapped = torch.cat([x[:, 3:6], x[:, 0:3], x[:, 6:]], dim=1)
    # lstm1 sees each chunk alone, so swapping chunks swaps lstm1's outputs; lstm2 sees the order
    a = model.lstm1(x[:, 0:3], torch.ones(1, 3, dtype=torch.bool))
    b = model.lstm1(swapped[:, 3:6], torch.ones(1, 3, dtype=torch.bool))
    assert torch.allclose(a, b)
    assert not torch.allclose(model.embed(x, lengths), model.embed(swapped, lengths))


def test_ranking_loss_by_hand():
    embeddings = torch.tensor([[1.0, 0.0], [1.0, 1.0]])
    labels = torch.tensor([0, 1])
    vectors = torch.tensor([[1.0, 0.0], [0.0, 1.0], [1.0, 1.0]])
    # video 0: s(a0,v0)=1; hardest other verb v2: 0.707; hardest other video for v0: a1, 0.707
    # video 1: s(a1,v1)=0.707; hardest other verb v2: 1; hardest other video for v1: a0, 0
    r = 1 / math.sqrt(2)
    expected = ((0 + r + r) + (1 - r + 1 + 0)) / 2
    assert pairwise_ranking_loss(embeddings, labels, vectors).item() == pytest.approx(expected)


def test_ranking_loss_clamps_negative_similarities_at_zero():
    loss = pairwise_ranking_loss(torch.tensor([[1.0, 0.0]]), torch.tensor([0]),
                                 torch.tensor([[2.0, 0.0], [-1.0, 0.0]]))
    assert loss.item() == pytest.approx(0.0)


def test_dual_loss_adds_lambda_times_cross_entropy():
    embeddings, labels = torch.tensor([[1.0, 0.0], [0.0, 1.0]]), torch.tensor([0, 1])
    vectors = torch.eye(2)
    logits = torch.tensor([[2.0, -1.0], [0.5, 0.5]])
    total, ranking, ce = dual_loss(embeddings, logits, labels, vectors, 0.5)
    bce = -(math.log(torch.sigmoid(torch.tensor(2.0)).item())
            + math.log(1 - torch.sigmoid(torch.tensor(-1.0)).item())
            + math.log(1 - torch.sigmoid(torch.tensor(0.5)).item())
            + math.log(torch.sigmoid(torch.tensor(0.5)).item())) / 4
    assert ce.item() == pytest.approx(bce, rel=1e-5)
    assert total.item() == pytest.approx(ranking.item() + 0.5 * bce, rel=1e-5)


def test_lambda_reaches_its_value_after_warmup():
    assert lambda_at(0, 100, 0.02, 0.75) == 0
    assert lambda_at(30, 100, 0.02, 0.75) == pytest.approx(0.008)
    assert lambda_at(75, 100, 0.02, 0.75) == pytest.approx(0.02)
    assert lambda_at(500, 100, 0.02, 0.75) == pytest.approx(0.02)
    assert lambda_at(0, 100, 0.02, 0) == 0.02


def test_saved_model_loads_and_embeds_the_same(tmp_path):
    model = small()
    x, lengths = padded_batch([8, 2])
    extra = {"variant": "action2vec", "split": {"seen": ["a"], "unseen": ["b"]}, "steps": 8}
    save_model(tmp_path / "m.pt", model, extra)
    loaded, checkpoint = load_model(tmp_path / "m.pt")
    assert {k: checkpoint[k] for k in extra} == extra
    assert HRNNConfig(**checkpoint["config"]) == model.config
    for (name, a), (other, b) in zip(model.state_dict().items(), loaded.state_dict().items()):
        assert name == other and torch.equal(a, b)
    assert torch.allclose(model.embed(x, lengths), loaded.embed(x, lengths))
    assert torch.load(tmp_path / "m.pt", weights_only=True)["steps"] == 8  # plain data
    assert [p.name for p in tmp_path.iterdir()] == ["m.pt"]


def test_only_plain_data_is_saved(tmp_path):
    with pytest.raises(TypeError, match=r"checkpoint.steps: numpy.int64 is not plain data"):
        save_model(tmp_path / "m.pt", small(), {"steps": np.int64(8)})
    assert not list(tmp_path.iterdir())


def test_a_failed_save_leaves_the_previous_checkpoint(tmp_path, monkeypatch):
    path = tmp_path / "m.pt"
    save_model(path, small(), {"variant": "first"})
    real_save = torch.save

    def disk_full(obj, f):
        real_save(obj, f)
        with open(f, "r+b") as out:
            out.truncate(100)  # half written when the disk filled up
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(torch, "save", disk_full)
    with pytest.raises(OSError, match="No space left"):
        save_model(path, small(attention=0), {"variant": "second"})
    monkeypatch.undo()
    assert load_model(path)[1]["variant"] == "first"
    assert [p.name for p in tmp_path.iterdir()] == ["m.pt"]


class RunsShell:
    """A payload that runs a shell command (os.system) when unpickled."""

    def __init__(self, marker):
        self.marker = marker

    def __reduce__(self):
        return os.system, (f"touch {self.marker}",)


def test_the_malicious_payload_runs_when_loaded_unsafely(tmp_path):
    """The payload the refusal tests use does run code when loaded the unsafe way."""
    marker = tmp_path / "MARKER"
    torch.save({"config": RunsCode(marker)}, tmp_path / "evil.pt")
    torch.load(tmp_path / "evil.pt", weights_only=False)
    assert marker.exists()


@pytest.mark.parametrize("write, reason", [
    (lambda path, payload: torch.save({"config": payload, "state_dict": {}}, path),
     "GLOBAL getattr, which could run code"),
    (lambda path, payload: path.write_bytes(pickle.dumps({"config": payload})),  # bare pickle
     "Unsupported operand"),
    (lambda path, payload: torch.save({"config": RunsShell(payload.marker)}, path),
     "GLOBAL posix.system, which could run code"),
])
def test_a_checkpoint_that_would_run_code_is_refused_unrun(tmp_path, write, reason):
    marker, path = tmp_path / "MARKER", tmp_path / "evil.pt"
    write(path, RunsCode(marker))
    with pytest.raises(Action2VecError, match="refused: not a plain-data checkpoint") as error:
        load_model(path)
    assert str(path) in str(error.value) and "nothing in it was run" in str(error.value)
    assert reason in str(error.value) and "weights_only" not in str(error.value)
    assert not marker.exists()


@pytest.mark.parametrize("content, message", [
    (b"junk", r"not a model checkpoint written by the train stage \("),
    ([1, 2], r"it holds a list, not a dict"),
    ({"config": {}}, r"\(no state_dict\)"),
    ({"config": {"input_dim": 3, "colour": 1}, "state_dict": {}},
     r"config or weights do not fit the network: .*colour"),
])
def test_a_file_that_is_not_a_checkpoint_is_an_error_naming_it(tmp_path, content, message):
    path = tmp_path / "m.pt"
    if isinstance(content, bytes):
        path.write_bytes(content)
    else:
        torch.save(content, path)
    with pytest.raises(Action2VecError, match=message) as error:
        load_model(path)
    assert str(error.value).startswith(f"{path}: ")
