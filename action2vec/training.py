"""Training the HRNN on the seen classes of a zero-shot split: the settings (``TrainConfig``),
the choice of what a split trains on (``fit_split``) and the loop (``train``), with its parts
beside it: one epoch (``train_epoch``) and the cross-entropy weight's schedule (``lambda_at``),
the validation and choice of epoch (``validate``, ``choose_epoch``), and the state a run carries
and resumes from (``Run``, ``resume_state``, ``restore``, ``save_state``, ``load_state``)."""

import logging
import time
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch

from action2vec import Action2VecError, distributed
from action2vec.files import atomic
from action2vec.model import HRNN, HRNNConfig, check_plain, dual_loss, read_plain
from action2vec.progress import bar as progress_bar
from action2vec.sequences import as_rows
from action2vec.protocol import VARIANTS
from action2vec.scoring import rank_classes

log = logging.getLogger(__name__)

# The resume state (weights, Adam's moments, the best epoch's weights: 130 MB at the default
# network) is written after an epoch once this many seconds have passed since the last write,
# but not after the last epoch, which only the model's own file follows. An interruption then
# loses at most this long plus one epoch, and epochs of a second or two do not spend a third of
# their time writing it.
SAVE_EVERY_S = 30.0


@dataclass
class TrainConfig:
    """How one model is trained: Adam's settings, the dual loss's lambda and its warmup, the
    seed and device, and (for ``fit_split``) the network's settings."""

    epochs: int
    batch_size: int
    lr: float
    lam: float  # weight of the cross-entropy term; 0 trains on the ranking loss alone
    warmup: float  # lambda is reached at this fraction of the first epoch (see lambda_at)
    seed: int
    schedule: str = "ramp"  # how lambda is reached: "ramp" (from 0) or "step" (0, then lambda)
    shuffle_labels: bool = False  # the negative control: labels permuted among the videos
    reduction: str = "mean"  # of the loss over the batch: "mean", or "sum" as the paper writes
    device: str = "cpu"
    patience: int = None  # stop once validation top-1 has not improved for this many epochs
    network: dict = field(default_factory=dict)  # HRNNConfig's settings but the data's sizes

    @classmethod
    def from_params(cls, p, variant):
        """The settings for one of Table 1's variants from the train stage's params (seed,
        lambda, train); an unknown variant is an error naming the known ones."""
        if variant not in VARIANTS:
            raise Action2VecError(f"unknown variant {variant!r}; choose from {sorted(VARIANTS)}")
        t, spec = p["train"], VARIANTS[variant]
        return cls(epochs=t["epochs"], batch_size=t["batch_size"], lr=t["lr"],
                   lam=p["lambda"] if spec["cross_entropy"] else 0.0, warmup=t["lambda_warmup"],
                   seed=p["seed"], schedule=t["lambda_schedule"],
                   shuffle_labels=spec.get("shuffle_labels", False),
                   reduction=t["loss_reduction"], device=t["device"], patience=t["patience"],
                   network={"kind": spec["kind"], "chunk": t["chunk"], "lstm1": t["lstm1"],
                            "lstm2": t["lstm2"], "dropout": t["dropout"],
                            "attention": t["attention"] if spec["attention"] else 0})


def seed_everything(seed):
    torch.manual_seed(seed)
    np.random.seed(seed)


def class_rows(data, classes, exclude=()):
    """(row mask, targets indexing ``classes``) of the videos of ``data`` whose label is one of
    ``classes`` and whose id is not in ``exclude``."""
    index = {c: i for i, c in enumerate(classes)}
    skip = set(exclude)
    rows = np.array([label in index and video not in skip
                     for video, label in zip(data["video_id"], data["label"])], dtype=bool)
    return rows, np.array([index[label] for label in np.array(data["label"])[rows]], dtype=np.int64)


SHUFFLE_STREAM = 3  # the permutation's own random stream (see splits.VALIDATION_STREAM)


def shuffled(targets, seed):
    """``targets`` permuted among the videos by a draw from ``seed``: every class keeps its
    number of videos, but a video's label no longer says what it shows (the negative control)."""
    return np.asarray(targets)[np.random.default_rng([seed, SHUFFLE_STREAM]).permutation(
        len(targets))]


def fit_split(data, class_vectors, split, config, resume=None, progress=True, on_epoch=None):
    """(model, history): a new HRNN trained on the seen classes of ``split`` alone (their videos
    but the held-out ones, their word vectors, a classification head with one output per seen
    class), at the epoch whose zero-shot top-1 on the split's validation classes is best (the
    last epoch when it has none). With ``config.shuffle_labels`` the targets are permuted among
    those videos first (see shuffled). ``data`` is ``read_sequences``'s dict, ``class_vectors`` maps
    class names to word vectors; the targets index ``split["seen"]``. No video of another class
    reaches the model. ``data["sequences"]`` may be an array or a
    ``sequences.Rows`` source (read in batches, so memory stays bounded)."""
    seen = split["seen"]
    source = as_rows(data["sequences"], data["lengths"])
    rows, targets = class_rows(data, seen, split.get("held_out", ()))
    if config.shuffle_labels:
        targets = shuffled(targets, config.seed)
    validation = None
    if split.get("validation"):
        vrows, vtargets = class_rows(data, split["validation"])
        validation = (source.subset(np.flatnonzero(vrows)), None, vtargets,
                      np.array([class_vectors[c] for c in split["validation"]], dtype=np.float32))
    seed_everything(config.seed)
    model = HRNN(HRNNConfig(input_dim=source.read([0]).shape[2],
                            embed_dim=len(next(iter(class_vectors.values()))),
                            n_classes=len(seen), **config.network))
    history = train(model, source.subset(np.flatnonzero(rows)), None, targets,
                    np.array([class_vectors[c] for c in seen], dtype=np.float32), config,
                    resume=resume, progress=progress, validation=validation, on_epoch=on_epoch)
    return model, history


@contextmanager
def one_cpu_thread(device):
    """One torch thread and one BLAS thread (numpy's and scipy's, as the validation's scoring
    calls them) while training on a CPU: multi-threaded CPU training gave one of two
    different models in about 1 run in 4 on an AVX-512 machine (neither MKL_CBWR nor
    deterministic algorithms helped); with one thread every run is the same, at about 1.5x the
    time. Denormal floats are flushed to zero meanwhile (no_denormals)."""
    from threadpoolctl import threadpool_limits  # installed with scikit-learn

    before = torch.get_num_threads()
    cpu = torch.device(device).type == "cpu"
    if cpu:
        torch.set_num_threads(1)
    try:
        with threadpool_limits(1 if cpu else None, user_api="blas"), no_denormals(cpu):
            yield
    finally:
        torch.set_num_threads(before)


@contextmanager
def no_denormals(cpu=True):
    """Flush denormal floats to zero in this thread (the CPU's FTZ/DAZ modes, as TensorFlow
    sets by default) while training on a CPU. The gradients of the default network reach
    denormal values, which some CPUs multiply a hundred times slower: without this, one
    training of the rendered dataset took 1.9x as long, with the same bytes out."""
    if not cpu:
        yield
        return
    torch.set_flush_denormal(True)
    try:
        yield
    finally:
        torch.set_flush_denormal(False)


def train(model, sequences, lengths, targets, class_vectors, config, resume=None, progress=True,
          validation=None, on_epoch=None):
    """Adam on the dual loss; returns the history, one dict per epoch (loss terms per video).

    ``sequences`` is an array with its ``lengths``, or a ``sequences.Rows`` source (lengths
    None), read one batch at a time while the previous one trains. ``on_epoch()`` is called
    after each epoch (a progress counter of parallel trainings).

    ``targets`` index ``class_vectors`` (the seen classes' word vectors). With ``validation``
    (sequences, lengths, targets, class vectors of validation classes), each epoch's zero-shot
    top-1 on them is recorded, and the model ends with the weights of the best epoch (the
    first, on ties), marked ``chosen`` in the history. With ``resume`` (a
    path), the full training state is saved there after an epoch (but the last) every
    ``SAVE_EVERY_S`` seconds and, if the file exists, training continues from it; a resumed run
    ends exactly as an uninterrupted one.

    Under torchrun the model is wrapped in DistributedDataParallel: every batch is split
    between the processes (so the ranking loss's contrastive videos come from each process's
    part) and their gradients are averaged; only rank 0 writes the resume state.
    """
    with one_cpu_thread(config.device):
        device = torch.device(config.device)
        model.to(device).train()
        net = distributed.wrap(model, device)
        x = as_rows(sequences, lengths)
        y = torch.as_tensor(targets)
        vectors = torch.as_tensor(class_vectors, device=device)
        run = start_run(model, config)
        state = load_state(resume, device) if resume and Path(resume).is_file() else None
        if state:
            restore(state, model, run)
            log.info("resuming training after epoch %d from %s", len(run.history), resume)
        first, saved = len(run.history), time.monotonic()
        bar = progress_bar(range(first, config.epochs), desc="train", unit="epoch",
                           disable=not progress, initial=first, total=config.epochs)
        for epoch in bar:
            if stalled(run, config.patience):
                break
            row = {"epoch": epoch + 1, **train_epoch(net, x, y, vectors, run, config)}
            if run.history:  # only the last epoch keeps its validation hits (choose_epoch)
                run.history[-1].pop("validation_hits", None)
            run.history.append(row)
            if validation is not None:
                run.best = validate(model, validation, config.device, row, run.best)
                model.train()
            bar.set_postfix(loss=f"{row['loss']:.4f}")
            if on_epoch is not None:
                on_epoch()
            due = epoch + 1 < config.epochs and time.monotonic() - saved >= SAVE_EVERY_S
            if resume and due and distributed.rank_and_size()[0] == 0:
                save_state(resume, resume_state(model, run))
                saved = time.monotonic()
        choose_epoch(model, run.history, run.best)
        model.eval()
        return run.history


def train_epoch(net, x, y, vectors, run, config):
    """One pass of Adam over the videos of ``x`` (a Rows source) in a new random order, in
    batches of ``config.batch_size`` (under torchrun each process takes its share of every
    batch), the cross-entropy weighted by lambda_at; the epoch's loss terms per video (summed
    over the processes) and the last batch's lambda. ``y`` are the videos' targets, indexing
    the word ``vectors``. Autocast to float16 with loss scaling on a GPU."""
    device = torch.device(config.device)
    cuda = device.type == "cuda"
    rank, world = distributed.rank_and_size()
    n_steps = torch.as_tensor(x.lengths)
    steps_per_epoch = -(-len(x) // config.batch_size)
    order = torch.randperm(len(x), generator=run.order)
    sums = np.zeros(3)
    for idx, inputs in read_ahead(x, batches(order, config.batch_size, rank, world), cuda):
        weight = lambda_at(run.step, steps_per_epoch, config.lam, config.warmup, config.schedule)
        with torch.autocast(device.type, dtype=torch.float16, enabled=cuda):
            embeddings, logits = net(inputs.to(device, non_blocking=True), n_steps[idx].to(device))
        total, ranking, cross_entropy = dual_loss(embeddings.float(), logits.float(),
                                                  y[idx].to(device), vectors, weight,
                                                  config.reduction)
        run.optimizer.zero_grad()
        run.scaler.scale(total).backward()
        run.scaler.step(run.optimizer)
        run.scaler.update()
        per_batch = len(idx) if config.reduction == "mean" else 1  # to a batch's sum
        sums += [total.item() * per_batch, ranking.item() * per_batch,
                 cross_entropy.item() * per_batch]
        run.step += 1
    means = np.sum(distributed.gather(sums), axis=0) / len(x)
    row = dict(zip(("loss", "ranking_loss", "cross_entropy"), means.tolist()))  # floats
    return {**row, "lambda": weight}


def lambda_at(step, steps_per_epoch, lam, warmup, schedule="ramp"):
    """The cross-entropy weight at an iteration (0-based). The paper sets lambda to 0.02 "after
    75% of the first epoch" (``warmup`` 0.75): "step" reads that literally (0 before, ``lam``
    from then on); "ramp" rises linearly from 0 to ``lam`` over that fraction, then stays."""
    reach = warmup * steps_per_epoch
    if schedule == "step":
        return lam if step >= reach else 0.0
    return lam if reach <= 0 else lam * min(1.0, step / reach)


def batches(order, size, rank=0, world=1):
    """The row indices of each batch of an epoch, taken from ``order`` (a permutation) one at a
    time: ``size`` rows, of which this process's share under torchrun (every ``world``-th from
    ``rank``; the first row alone where a batch has fewer rows than processes)."""
    for start in range(0, len(order), size):
        batch = order[start:start + size]
        yield batch[rank::world] if len(batch) >= world else batch[:1]


def read_ahead(source, batches, pin=False):
    """(row indices, their sequences as a tensor) of each batch of ``batches`` (an iterable of
    row indices), each read from ``source`` in a thread while the previous batch trains
    (pinned for a fast copy to a GPU)."""
    def read(idx):
        tensor = torch.from_numpy(source.read(idx.numpy()))
        return idx, tensor.pin_memory() if pin else tensor

    with ThreadPoolExecutor(1) as pool:
        pending = None
        for idx in batches:
            following = pool.submit(read, idx)
            if pending is not None:
                yield pending.result()
            pending = following
        if pending is not None:
            yield pending.result()


def validate(model, validation, device, row, best):
    """Record the model's zero-shot top-1 on the validation classes in the epoch's history
    ``row``, and which validation videos it got right (``validation_hits``, 0/1 per video: the
    last epoch's give the evaluation an unselected validation score with its interval); returns
    the best epoch so far ({"epoch", "top1", "model": weights})."""
    sequences, lengths, targets, class_vectors = validation
    nearest = rank_classes(embed(model, sequences, lengths, device=device), class_vectors)[:, 0]
    hits = (nearest == np.asarray(targets)).astype(int)
    top1 = float(hits.mean())
    row["validation_top1"] = top1
    row["validation_hits"] = hits.tolist()
    if best is None or top1 > best["top1"]:
        best = {"epoch": row["epoch"], "top1": top1,
                "model": {k: v.detach().clone() for k, v in model.state_dict().items()}}
    return best


def stalled(run, patience):
    """Whether validation top-1 has not improved on the best epoch for ``patience`` epochs
    (early stopping; never without validation classes or a patience). Checked before each
    epoch, so a resumed training stops where an uninterrupted one did."""
    return bool(patience and run.best and run.history
                and run.history[-1]["epoch"] - run.best["epoch"] >= patience)


def choose_epoch(model, history, best):
    """The model ends with the weights of the ``best`` epoch on the validation classes (when
    there were any), marked ``chosen`` in the ``history``; only the last epoch keeps its
    validation hits (the evaluation's unselected validation score)."""
    if best is None:
        return
    model.load_state_dict(best["model"])
    for row in history:
        row["chosen"] = row["epoch"] == best["epoch"]
        if row is not history[-1]:
            row.pop("validation_hits", None)


@dataclass
class Run:
    """What a training carries from one epoch to the next besides the model, all of which its
    resume state holds: Adam's and the loss scaler's states, the generator of the batches'
    order, the history, the iterations so far (lambda's schedule counts them) and the best
    epoch on the validation classes so far."""

    optimizer: torch.optim.Optimizer
    scaler: torch.amp.GradScaler
    order: torch.Generator
    history: list = field(default_factory=list)
    step: int = 0
    best: dict = None


def start_run(model, config):
    """A run from epoch 0: Adam on ``model``'s parameters (its fused kernel: on a CPU, a
    quarter of the step time of the per-tensor loop at the default network), loss scaling on a
    GPU alone, batches shuffled by a generator of their own seeded with ``config.seed``."""
    cuda = torch.device(config.device).type == "cuda"
    return Run(optimizer=torch.optim.Adam(model.parameters(), lr=config.lr, fused=True),
               scaler=torch.amp.GradScaler("cuda", enabled=cuda),
               order=torch.Generator().manual_seed(config.seed))


def resume_state(model, run):
    """The state to resume from after an epoch (plain data, for save_state): the model, the run
    and torch's random state (dropout's draws)."""
    return {"model": model.state_dict(), "optimizer": run.optimizer.state_dict(),
            "scaler": run.scaler.state_dict(), "order": run.order.get_state(),
            "rng": torch.get_rng_state(), "history": run.history, "step": run.step,
            "best": run.best}


def restore(state, model, run):
    """Put ``model``, ``run`` and torch's random state back as ``resume_state`` read them: the
    next epoch is the one an uninterrupted training would run."""
    model.load_state_dict(state["model"])
    run.optimizer.load_state_dict(state["optimizer"])
    if state.get("scaler"):  # empty on a CPU
        run.scaler.load_state_dict(state["scaler"])
    run.order.set_state(state["order"])
    torch.set_rng_state(state["rng"])
    run.history, run.step, run.best = state["history"], state["step"], state.get("best")


def save_state(path, state):
    """Write a resume state atomically: an interrupted write never replaces a good one. It must
    be plain data (tensors, numbers, strings, lists, dicts) so that ``load_state`` reads it
    without running code."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    check_plain(state, "resume state")
    with atomic(path) as tmp:
        torch.save(state, tmp)


def load_state(path, device):
    """The resume state at ``path`` as plain data, or None when it cannot be loaded so (a
    damaged file, one that would need code to load, one from an older version): it is only a
    scratch file, so training then starts over from epoch 0, with a warning naming it."""
    try:
        return read_plain(path, "resume state", device)
    except Action2VecError as exc:
        log.warning("%s; training from epoch 0", exc)
        return None


@torch.no_grad()
def embed(model, sequences, lengths, batch_size=256, device="cpu"):
    """Embeddings (N, embed_dim) of padded sequences (an array with its ``lengths``, or a
    ``sequences.Rows`` source with lengths None, read a batch at a time), in eval mode."""
    model.to(device).eval()
    source = as_rows(sequences, lengths)
    out = np.zeros((len(source), model.config.embed_dim), np.float32)
    for start in range(0, len(source), batch_size):
        rows = np.arange(start, min(start + batch_size, len(source)))
        x = torch.as_tensor(source.read(rows), device=device)
        n = torch.as_tensor(source.lengths[rows], device=device)
        out[rows] = model.embed(x, n).cpu().numpy()
    return out
