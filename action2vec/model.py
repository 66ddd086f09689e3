"""The Action2Vec network (section 3.2) in one file: a hierarchical LSTM (HRNN) with soft
attention that maps a sequence of clip features to a vector in the word-embedding space,
trained with the dual loss (pairwise ranking + lambda * cross-entropy).

    features (B, T, D) -> attention -> lstm1 over sub-sequences of `chunk` steps (shared weights,
    no state carried between sub-sequences) -> attention -> lstm2 over lstm1's outputs
    -> fc (embedding, word-vector dimension) -> classifier (sigmoid, for the cross-entropy term)

Two ablations of Table 1 change the recurrent part: ``kind="stacked"`` runs lstm2 on lstm1's
output at every step of the whole sequence (a 2-layer stacked LSTM), ``kind="single"`` has lstm1
alone over the whole sequence.
"""

import pickle
import re
import warnings
from dataclasses import asdict, dataclass

import torch
import torch.nn.functional as F
from torch import nn

from action2vec import Action2VecError
from action2vec.files import atomic


@dataclass
class HRNNConfig:
    input_dim: int  # PCA dimension of the clip features (500 in the paper)
    embed_dim: int  # word-vector dimension (300 for GoogleNews word2vec)
    n_classes: int  # training (seen) classes, for the cross-entropy head
    kind: str = "hrnn"  # hrnn, stacked or single
    chunk: int = 8  # steps per lstm1 sub-sequence
    lstm1: int = 1024
    lstm2: int = 512
    attention: int = 128  # attention hidden size; 0 feeds the steps to the LSTMs directly
    dropout: float = 0.5  # on lstm1's outputs


class Attention(nn.Module):
    """Soft attention of Bahdanau et al.: at step t, a weighted mean c_t of all inputs x_j with
    weights softmax_j(w^T tanh(W_a x_j + U_a h_{t-1} + b_a)) (section 3.2)."""

    def __init__(self, input_dim, hidden_dim, attn_dim):
        super().__init__()
        self.W_a = nn.Linear(input_dim, attn_dim)  # its bias is b_a
        self.U_a = nn.Linear(hidden_dim, attn_dim, bias=False)
        self.w = nn.Linear(attn_dim, 1, bias=False)

    def forward(self, x, keys, h, mask):
        """x (N, n, D), keys = W_a x (N, n, A), h (N, H) or None for the zero state (U_a h
        is then 0), mask (N, n) -> context (N, D)."""
        scores = self.w(torch.tanh(keys if h is None else keys + self.U_a(h)[:, None])).squeeze(-1)
        scores = scores.masked_fill(~mask, float("-inf"))
        alpha = torch.softmax(scores, dim=1).nan_to_num(0.0)  # an all-padding row attends nothing
        return torch.bmm(alpha[:, None], x).squeeze(1)


class AttentiveLSTM(nn.Module):
    """An LSTM whose input at each step is attention over the whole input sequence (or the step
    itself when attention is off). Padded steps leave the state unchanged; returns the last state.
    """

    def __init__(self, input_dim, hidden_dim, attn_dim):
        super().__init__()
        self.cell = nn.LSTMCell(input_dim, hidden_dim)
        self.attention = Attention(input_dim, hidden_dim, attn_dim) if attn_dim else None

    def forward(self, x, mask, every_step=False):
        """Last state (N, H), or with ``every_step`` the states of all steps (N, steps, H)."""
        n, steps, _ = x.shape
        keys = self.attention.W_a(x) if self.attention else None
        states, h, c = [], None, None  # None: the zero state before the first step
        for t in range(steps):
            step = self.attention(x, keys, h, mask) if self.attention else x[:, t]
            h_new, c_new = self.cell(step, (h, c)) if t else self.first_step(step)
            valid = mask[:, t, None]
            h = torch.where(valid, h_new, h if t else 0.0)
            c = torch.where(valid, c_new, c if t else 0.0)
            states.append(h)
        return torch.stack(states, 1) if every_step else h

    def first_step(self, step):
        """The cell from the zero state (h, c): the same numbers as ``self.cell(step, zeros)``
        without its W_hh h and f * c, which are zeros. On short sequences that is most of the
        work: the rendered videos' 2 clips are 2 steps of lstm1 and 1 of lstm2."""
        cell = self.cell
        gates = F.linear(step, cell.weight_ih, cell.bias_ih) + cell.bias_hh
        i, _, g, o = gates.chunk(4, 1)
        c = torch.sigmoid(i) * torch.tanh(g)
        return torch.sigmoid(o) * torch.tanh(c), c


class HRNN(nn.Module):
    """Action2Vec: clip-feature sequences -> embeddings in word-vector space, and class logits."""

    def __init__(self, config: HRNNConfig):
        super().__init__()
        self.config = config
        if config.kind not in ("hrnn", "stacked", "single"):
            raise ValueError(f"unknown model kind {config.kind!r}")
        self.lstm1 = AttentiveLSTM(config.input_dim, config.lstm1, config.attention)
        self.dropout = nn.Dropout(config.dropout)
        if config.kind == "single":
            self.lstm2 = None
        else:
            self.lstm2 = AttentiveLSTM(config.lstm1, config.lstm2, config.attention)
        self.fc = nn.Linear(config.lstm1 if config.kind == "single" else config.lstm2,
                            config.embed_dim)
        self.classifier = nn.Linear(config.embed_dim, config.n_classes)

    def embed(self, x, lengths):
        """x (B, T, D) zero-padded, lengths (B,) -> embeddings (B, embed_dim)."""
        x = x[:, :int(lengths.max())]  # steps after every video's end change nothing
        if self.config.kind == "hrnn":
            return self.fc(self.hierarchy(x, lengths))
        mask = torch.arange(x.shape[1], device=x.device)[None] < lengths[:, None]
        if self.config.kind == "single":
            return self.fc(self.dropout(self.lstm1(x, mask)))
        states = self.dropout(self.lstm1(x, mask, every_step=True))
        return self.fc(self.lstm2(states, mask))

    def hierarchy(self, x, lengths):
        """lstm1 over sub-sequences, then lstm2 over their summaries: (B, lstm2)."""
        batch, steps, dim = x.shape
        chunk = min(self.config.chunk, steps)  # a batch shorter than a sub-sequence is one
        n_chunks = -(-steps // chunk)
        x = F.pad(x, (0, 0, 0, n_chunks * chunk - steps))  # pad the tail to whole chunks
        mask = torch.arange(n_chunks * chunk, device=x.device)[None] < lengths[:, None]
        x = x.view(batch * n_chunks, chunk, dim)
        mask = mask.view(batch * n_chunks, chunk)
        live = mask.any(1)  # sub-sequences with at least one real step: only those run lstm1
        out = x.new_zeros(batch * n_chunks, self.config.lstm1)
        out[live] = self.lstm1(x[live], mask[live])
        out = self.dropout(out).view(batch, n_chunks, -1)
        return self.lstm2(out, live.view(batch, n_chunks))

    def forward(self, x, lengths):
        embedding = self.embed(x, lengths)
        return embedding, self.classifier(embedding)


REDUCTIONS = ("mean", "sum")  # how the losses of a batch's videos are combined


def check_reduction(reduction):
    """A ValueError naming the choices for anything but "mean" or "sum"."""
    if reduction not in REDUCTIONS:
        raise ValueError(f"unknown loss reduction {reduction!r}; choose from {REDUCTIONS}")


def pairwise_ranking_loss(embeddings, labels, class_vectors, reduction="mean"):
    """L_PR of section 3.2 with cosine similarity s and hard negative mining: per video i,
    (1 - s(a_i, v_i)) + max(0, s(a_x, v_i)) + max(0, s(a_i, v_x)), where v_x is the most
    similar other-class word vector to video i and a_x the most similar other-class video in the
    batch to word vector v_i. The paper's sum over contrastive classes x is this one hardest
    term. ``reduction``: "mean" over the batch's videos, or "sum" over them (the paper's
    sum over i)."""
    check_reduction(reduction)
    sims = F.normalize(embeddings, dim=1) @ F.normalize(class_vectors, dim=1).T  # (B, C)
    positive = sims.gather(1, labels[:, None]).squeeze(1)
    own_class = F.one_hot(labels, class_vectors.shape[0]).bool()
    hard_verb = sims.masked_fill(own_class, float("-inf")).max(1).values.clamp(min=0)
    video_vs_verb = sims[:, labels]  # [j, i] = s(a_j, v_{y_i})
    same = labels[:, None] == labels[None, :]
    hard_video = video_vs_verb.masked_fill(same, float("-inf")).max(0).values.clamp(min=0)
    per_video = 1 - positive + hard_verb + hard_video
    return per_video.mean() if reduction == "mean" else per_video.sum()


def dual_loss(embeddings, logits, labels, class_vectors, lam, reduction="mean"):
    """L_Dual = L_PR + lambda * L_CE, with L_CE the binary cross-entropy of the sigmoid
    classification outputs against the one-hot labels. Returns (total, ranking, cross-entropy).

    ``reduction="mean"``: L_PR is the mean over the batch's videos and L_CE the mean over
    videos x classes. ``reduction="sum"`` (the paper's sums): L_PR is summed over the videos
    and L_CE over videos and classes, so that lambda * L_CE weighs n_classes times more
    against L_PR than under "mean"."""
    ranking = pairwise_ranking_loss(embeddings, labels, class_vectors, reduction)
    onehot = F.one_hot(labels, logits.shape[1]).float()
    cross_entropy = F.binary_cross_entropy_with_logits(logits, onehot, reduction=reduction)
    return ranking + lam * cross_entropy, ranking, cross_entropy


# What a checkpoint holds besides tensors: torch.load(weights_only=True) reads these (and dicts,
# lists and tuples of them) without running any code from the file.
PLAIN = (str, int, float, bool, type(None))
CHECKPOINT_KEYS = ("config", "state_dict")
CHECKPOINT = "model checkpoint written by the train stage"


def check_plain(value, key="checkpoint"):
    """Refuse (TypeError naming the key) anything but plain data: dicts, lists and tuples of
    strings, numbers, booleans, None and tensors. A numpy scalar is not plain: loading it
    would need numpy's code."""
    if isinstance(value, dict):
        for k, v in value.items():
            check_plain(k, f"{key} key {k!r}")
            check_plain(v, f"{key}.{k}")
    elif isinstance(value, (list, tuple)):
        for i, v in enumerate(value):
            check_plain(v, f"{key}[{i}]")
    elif type(value) not in PLAIN and not isinstance(value, torch.Tensor):
        raise TypeError(f"{key}: {type(value).__module__}.{type(value).__name__} is not plain "
                        "data (use str, int, float, bool, None, lists, dicts or tensors)")


def save_model(path, model, extra):
    """A self-contained checkpoint: config, weights, and whatever ``extra`` describes, all plain
    data so that it loads without running code (``weights_only``). Written atomically: a
    reader never sees a partial file, and a failed write leaves the previous one."""
    checkpoint = {"config": asdict(model.config), "state_dict": model.state_dict(), **extra}
    check_plain(checkpoint)
    with atomic(path) as tmp:
        torch.save(checkpoint, tmp)


def read_plain(path, what, device="cpu"):
    """``torch.load`` of plain data only (``weights_only``): a file that would need code to
    load is refused before anything in it runs, and any other unreadable file is an error
    that names it and says it is not ``what``."""
    try:
        with warnings.catch_warnings():  # torch's note on pickle protocols of foreign files
            warnings.filterwarnings("ignore", message="Detected pickle protocol")
            return torch.load(path, map_location=device, weights_only=True)
    except pickle.UnpicklingError as exc:
        if str(exc).startswith("Weights only load failed"):
            raise Action2VecError(f"{path}: refused: not a plain-data checkpoint "
                                  f"({refusal(exc)}); nothing in it was run") from None
        raise Action2VecError(f"{path}: not a {what} (UnpicklingError: {one_line(exc)})") \
            from None
    except Exception as exc:  # noqa: BLE001 - any unreadable file gets its name
        raise Action2VecError(f"{path}: not a {what} ({type(exc).__name__}: "
                              f"{one_line(exc)})") from None


def refusal(exc):
    """What torch's weights-only loader refused, without its advice to load the file unsafely.
    Its message names the refusal after "WeightsUnpickler error:", or in the paragraph between
    that advice and a pointer to the documentation."""
    found = re.search(r"WeightsUnpickler error:\s*(.+)", str(exc))
    paragraphs = [p.strip() for p in str(exc).split("\n\n")[1:] if p.strip()]
    detail = found.group(1) if found else next(
        (p for p in paragraphs if not p.startswith("Check the documentation")), "")
    detail = one_line(re.split(r" was not an allowed global| whose module", detail)[0])
    return f"{detail}, which could run code" if "global" in detail.lower() else detail


def one_line(exc, limit=300):
    text = " ".join(str(exc).split())
    return text if len(text) <= limit else text[:limit] + "..."


def load_model(path, device="cpu"):
    """(HRNN in eval mode, checkpoint dict) from a file written by ``save_model``. A file that
    is not one is an Action2VecError naming it; one that would need code to load is refused
    without running it."""
    checkpoint = read_plain(path, CHECKPOINT, device)
    if not isinstance(checkpoint, dict):
        raise Action2VecError(f"{path}: not a {CHECKPOINT} (it holds a "
                              f"{type(checkpoint).__name__}, not a dict)")
    missing = [k for k in CHECKPOINT_KEYS if k not in checkpoint]
    if missing:
        raise Action2VecError(f"{path}: not a {CHECKPOINT} (no {' or '.join(missing)})")
    try:
        model = HRNN(HRNNConfig(**checkpoint["config"]))
        model.load_state_dict(checkpoint["state_dict"])
    except (TypeError, ValueError, RuntimeError) as exc:
        raise Action2VecError(f"{path}: not a {CHECKPOINT} (its config or weights do not "
                              f"fit the network: {one_line(exc)})") from None
    return model.to(device).eval(), checkpoint
