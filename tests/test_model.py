import math
import os
import pickle

import numpy as np
import pytest
import torch

from action2vec import Action2VecError
from action2vec.model import (HRNN, Attention, AttentiveLSTM, HRNNConfig, dual_loss, load_model,
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


@pytest.mark.parametrize("attention", [16, 0])
def test_a_batch_shorter_than_a_sub_sequence_runs_lstm1_on_its_steps_alone(attention):
    model = small(attention)  # chunks of 3
    x, lengths = padded_batch([2, 1], steps=2)
    steps = []
    model.lstm1.register_forward_hook(lambda module, args, out: steps.append(args[0].shape[1]))
    embedding = model.embed(x, lengths)
    assert steps == [2]  # not padded to the chunk's 3
    # by hand: lstm1 over the whole chunk, zero-padded, then lstm2 over its one summary
    padded = torch.cat([x, torch.zeros(2, 1, 12)], dim=1)
    mask = torch.arange(3)[None] < lengths[:, None]
    summary = model.lstm1(padded, mask)
    by_hand = model.fc(model.lstm2(summary[:, None], torch.ones(2, 1, dtype=torch.bool)))
    assert torch.allclose(embedding, by_hand, atol=1e-6)


@pytest.mark.parametrize("kind", ["stacked", "single"])
def test_ablation_kinds_embed_padded_sequences(kind):
    model = small(0, kind=kind)
    x, lengths = padded_batch([8, 5, 1])
    embedding, logits = model(x, lengths)
    assert embedding.shape == (3, 5) and logits.shape == (3, 4)
    longer = torch.cat([x, torch.zeros(3, 4, 12)], dim=1)
    assert torch.allclose(model.embed(x, lengths), model.embed(longer, lengths), atol=1e-6)
    assert (model.lstm2 is None) == (kind == "single")


def numpy_attention(att, x, h, mask):
    """The paper's attention weights alpha_j = softmax_j(w^T tanh(W_a x_j + U_a h + b_a)) over
    the unmasked steps, computed in numpy from the module's weights: (N, n)."""
    W, b = att.W_a.weight.detach().numpy(), att.W_a.bias.detach().numpy()
    U, w = att.U_a.weight.detach().numpy(), att.w.weight.detach().numpy()[0]
    e = np.tanh(x @ W.T + b + (h @ U.T)[:, None]) @ w
    e = np.where(mask, e, -np.inf)
    alpha = np.exp(e - e.max(1, keepdims=True))
    return alpha / alpha.sum(1, keepdims=True)


def test_attention_weights_follow_the_paper_and_ignore_padding():
    torch.manual_seed(0)
    n, extra = 5, 3
    att = Attention(n + extra, 4, 6)
    with torch.no_grad():
        for weight in att.parameters():  # sharper weights than the default initialisation
            weight.normal_()
    # each step starts with its one-hot position, so the context's first n entries are alpha
    x = torch.cat([torch.eye(n).expand(2, n, n), 3 * torch.randn(2, n, extra)], dim=2)
    h = torch.randn(2, 4)
    mask = torch.tensor([[True] * 5, [True, True, True, False, False]])
    context = att(x, att.W_a(x), h, mask).detach().numpy()
    expected = numpy_attention(att, x.numpy(), h.numpy(), mask.numpy())
    np.testing.assert_allclose(context[:, :n], expected, atol=1e-6)
    np.testing.assert_allclose(context, np.einsum("bj,bjd->bd", expected, x.numpy()), atol=1e-5)
    assert (context[1, 3:n] == 0).all()  # padded steps get no weight
    assert np.abs(expected[0] - 1 / n).max() > 0.05  # far from a plain mean


def numpy_lstm_cell(cell, x, h, c):
    """One step of torch's LSTM cell (gates i, f, g, o) in numpy."""
    gates = (x @ cell.weight_ih.detach().numpy().T + cell.bias_ih.detach().numpy()
             + h @ cell.weight_hh.detach().numpy().T + cell.bias_hh.detach().numpy())
    i, f, g, o = np.split(gates, 4, axis=1)
    sigmoid = lambda z: 1 / (1 + np.exp(-z))  # noqa: E731
    c = sigmoid(f) * c + sigmoid(i) * np.tanh(g)
    return sigmoid(o) * np.tanh(c), c


def test_attentive_lstm_attends_with_the_previous_state_and_skips_padding():
    torch.manual_seed(0)
    lstm = AttentiveLSTM(6, 5, 4)
    x = torch.randn(2, 4, 6)
    mask = torch.tensor([[True] * 4, [True, True, False, False]])
    states = lstm(x, mask, every_step=True).detach().numpy()
    xs, valid = x.numpy(), mask.numpy()
    h, c = np.zeros((2, 5), np.float32), np.zeros((2, 5), np.float32)
    for t in range(4):
        alpha = numpy_attention(lstm.attention, xs, h, valid)  # h is h_{t-1}
        h_new, c_new = numpy_lstm_cell(lstm.cell, np.einsum("bj,bjd->bd", alpha, xs), h, c)
        h = np.where(valid[:, t, None], h_new, h)
        c = np.where(valid[:, t, None], c_new, c)
        np.testing.assert_allclose(states[:, t], h, atol=1e-5)


def states_from_zeros_by_the_cell(lstm, x, mask):
    """Every step's state of ``lstm`` computed as its docstring says, with torch's own LSTM cell
    and attention run from a zero state at the first step too."""
    h = c = x.new_zeros(x.shape[0], lstm.cell.hidden_size)
    keys = lstm.attention.W_a(x) if lstm.attention else None
    states = []
    for t in range(x.shape[1]):
        step = lstm.attention(x, keys, h, mask) if lstm.attention else x[:, t]
        h_new, c_new = lstm.cell(step, (h, c))
        h, c = torch.where(mask[:, t, None], h_new, h), torch.where(mask[:, t, None], c_new, c)
        states.append(h)
    return torch.stack(states, 1)


@pytest.mark.parametrize("attention", [4, 0])
def test_the_first_step_from_the_zero_state_gives_the_cells_own_numbers(attention):
    """The first step skips W_hh h, U_a h and f * c (all zero): the states and every gradient
    are the very bits of the cell run from zeros."""
    torch.manual_seed(0)
    lstm = AttentiveLSTM(6, 5, attention)
    x = torch.randn(3, 4, 6)
    mask = torch.tensor([[True] * 4, [True, True, False, False], [True, False, False, False]])
    weights = torch.randn(3, 4, 5)
    grads = []
    for forward in (lambda: lstm(x, mask, every_step=True),
                    lambda: states_from_zeros_by_the_cell(lstm, x, mask)):
        lstm.zero_grad()
        states = forward()
        (states * weights).sum().backward()
        grads.append((states.detach(), {n: p.grad.clone() if p.grad is not None
                                         else torch.zeros_like(p)
                                         for n, p in lstm.named_parameters()}))
    (ours, ours_grads), (cells, cells_grads) = grads
    assert torch.equal(ours, cells)
    for name, grad in cells_grads.items():
        assert torch.equal(ours_grads[name], grad), name
    assert cells_grads["cell.weight_hh"].abs().sum() > 0  # steps after the first use W_hh


def lstm1_outputs(model, x, lengths):
    """LSTM 1's outputs, one row per sub-sequence, read with a hook during ``model.embed``
    (a batch of one video)."""
    seen = []
    hook = model.lstm1.register_forward_hook(lambda module, args, out: seen.append(out))
    try:
        model.embed(x, lengths)
    finally:
        hook.remove()
    return torch.cat([out.reshape(-1, out.shape[-1]) for out in seen]).detach()


@pytest.mark.parametrize("attention", [16, 0])
def test_each_sub_sequence_runs_lstm1_from_a_fresh_state(attention):
    model = small(attention)  # chunks of 3
    x, lengths = padded_batch([9], steps=9)
    before = lstm1_outputs(model, x, lengths)
    assert before.shape == (3, 10)
    for k in range(3):
        changed = x.clone()
        changed[0, 3 * k:3 * k + 3] += 1.0
        after = lstm1_outputs(model, changed, lengths)
        for other in range(3):
            assert torch.allclose(after[other], before[other], atol=1e-6) == (other != k), \
                f"changing sub-sequence {k}: sub-sequence {other}"
    # one lstm1 on every sub-sequence
    swapped = torch.cat([x[:, 3:6], x[:, 0:3], x[:, 6:]], dim=1)
    assert torch.allclose(lstm1_outputs(model, swapped, lengths), before[[1, 0, 2]], atol=1e-6)
    if not attention:  # with attention every LSTM input weighs all steps alike, in any order
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


def cosine(a, b):
    return float(np.dot(a, b) / np.linalg.norm(a) / np.linalg.norm(b))


def ranking_loss_by_loops(embeddings, labels, vectors, verb=max, video=max):
    """Section 3.2's ranking loss with the hardest negatives, written out: per video i,
    (1 - s(a_i, v_i)) + max(0, s(a_i, v_x)) + max(0, s(a_x, v_i)), v_x the most similar word
    vector of another class, a_x the most similar video of another class; the batch mean.
    ``verb`` and ``video`` pick a negative's similarity from the candidates' in order."""
    total = 0.0
    for a, y in zip(embeddings, labels):
        hard_verb = verb([cosine(a, v) for k, v in enumerate(vectors) if k != y])
        hard_video = video([cosine(b, vectors[y]) for b, z in zip(embeddings, labels) if z != y])
        total += 1 - cosine(a, vectors[y]) + max(0.0, hard_verb) + max(0.0, hard_video)
    return total / len(labels)


def test_ranking_loss_takes_the_hardest_other_class_negatives():
    vectors = np.array([[1.0, 0.0, 0.0], [0.0, 1.0, 0.0], [0.0, 0.0, 1.0], [1.0, 1.0, 0.2]])
    labels = [0, 1, 0, 2]  # videos 0 and 2 share class 0; no video of class 3
    embeddings = np.array([[1.0, 0.2, 0.1],  # its hardest other verb: class 3's, not class 1's
                           [0.3, 1.0, 0.0],
                           [1.0, 0.0, 0.0],  # the video most like v_0, of the same class
                           [0.8, 0.5, 1.0]])  # the hardest other-class video for v_0 and v_1
    expected = ranking_loss_by_loops(embeddings, labels, vectors)
    loss = pairwise_ranking_loss(torch.tensor(embeddings), torch.tensor(labels),
                                 torch.tensor(vectors))
    assert loss.item() == pytest.approx(expected, abs=1e-9)
    # the case tells the hardest negatives from the first other-class ones
    first = lambda similarities: similarities[0]  # noqa: E731
    assert abs(ranking_loss_by_loops(embeddings, labels, vectors, verb=first) - expected) > 0.1
    assert abs(ranking_loss_by_loops(embeddings, labels, vectors, video=first) - expected) > 0.1


def test_ranking_loss_without_another_class_in_the_batch_has_no_video_negative():
    embeddings, vectors = np.array([[1.0, 0.5], [0.5, 1.0]]), np.array([[1.0, 0.0], [0.0, 1.0]])
    loss = pairwise_ranking_loss(torch.tensor(embeddings), torch.tensor([0, 0]),
                                 torch.tensor(vectors))
    expected = np.mean([1 - cosine(a, vectors[0]) + cosine(a, vectors[1]) for a in embeddings])
    assert loss.item() == pytest.approx(expected)


def test_dual_loss_adds_lambda_times_sigmoid_cross_entropy():
    embeddings = torch.tensor([[1.0, 0.0], [0.0, 1.0], [1.0, 1.0]])
    labels, vectors = torch.tensor([0, 1, 3]), torch.eye(4)[:, :2] + 0.1
    z = np.array([[2.0, -1.0, 0.5, -2.0], [0.5, 1.5, -3.0, -1.0], [-2.0, 0.3, -1.5, 4.0]])
    total, ranking, ce = dual_loss(embeddings, torch.tensor(z, dtype=torch.float32), labels,
                                   vectors, 0.5)
    p, y = 1 / (1 + np.exp(-z)), np.eye(4)[labels.numpy()]
    bce = -np.mean(y * np.log(p) + (1 - y) * np.log(1 - p))  # over batch x classes
    softmax_ce = -np.mean(np.log(np.exp(z) / np.exp(z).sum(1, keepdims=True))[y == 1])
    assert ce.item() == pytest.approx(bce, rel=1e-5)
    assert abs(bce - softmax_ce) > 0.1
    assert ranking.item() == pairwise_ranking_loss(embeddings, labels, vectors).item()
    assert total.item() == pytest.approx(ranking.item() + 0.5 * bce, rel=1e-5)


def test_sum_reduction_is_the_papers_sums_over_the_batch():
    embeddings = torch.tensor([[1.0, 0.0], [1.0, 1.0], [0.0, 1.0]])
    labels, vectors = torch.tensor([0, 1, 1]), torch.tensor([[1.0, 0.0], [0.0, 1.0], [1.0, 1.0]])
    # L_PR = sum_i (1 - s(a_i, v_i)) + max(0, s(a_i, v_x)) + max(0, s(a_x, v_i)), hardest x:
    # video 0: s(a0,v0) = 1; hardest other verb v2: r; hardest other-class video for v0: a1, r
    # video 1: s(a1,v1) = r; hardest other verb v2: 1; only other-class video for v1: a0, 0
    # video 2: s(a2,v1) = 1; hardest other verb v2: r; only other-class video for v1: a0, 0
    r = 1 / math.sqrt(2)
    ranking_sum = (0 + r + r) + (1 - r + 1 + 0) + (0 + r + 0)
    z = [[2.0, -1.0, 0.5], [0.5, 1.5, -3.0], [-2.0, 0.3, 4.0]]
    # L_CE = -sum_i sum_c y_ic log p_ic + (1 - y_ic) log(1 - p_ic), p = sigmoid(z)
    ce_sum = -sum(math.log(1 / (1 + math.exp(-z[i][c]))) if c == labels[i] else
                  math.log(1 - 1 / (1 + math.exp(-z[i][c]))) for i in range(3) for c in range(3))
    logits = torch.tensor(z)
    total, ranking, ce = dual_loss(embeddings, logits, labels, vectors, 0.5, reduction="sum")
    assert ranking.item() == pytest.approx(ranking_sum, rel=1e-6)
    assert ce.item() == pytest.approx(ce_sum, rel=1e-6)
    assert total.item() == pytest.approx(ranking_sum + 0.5 * ce_sum, rel=1e-6)
    assert pairwise_ranking_loss(embeddings, labels, vectors, "sum").item() == ranking.item()
    # "mean", the default: the ranking loss over 3 videos, the cross-entropy over 3 x 3 outputs
    default = dual_loss(embeddings, logits, labels, vectors, 0.5)
    assert default[1].item() == pytest.approx(ranking_sum / 3, rel=1e-6)
    assert default[2].item() == pytest.approx(ce_sum / 9, rel=1e-6)
    mean = dual_loss(embeddings, logits, labels, vectors, 0.5, reduction="mean")
    assert all(torch.equal(a, b) for a, b in zip(mean, default))


def test_an_unknown_loss_reduction_is_an_error_naming_the_choices():
    with pytest.raises(ValueError, match=r"unknown loss reduction 'total'; choose from "
                                         r"\('mean', 'sum'\)"):
        dual_loss(torch.ones(2, 2), torch.zeros(2, 3), torch.tensor([0, 1]), torch.eye(3, 2),
                  0.5, reduction="total")


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
