"""Training the HRNN on the seen classes of a zero-shot split."""

import logging
from pathlib import Path

import numpy as np
import torch
from tqdm import tqdm

from action2vec import Action2VecError, distributed
from action2vec.files import atomic
from action2vec.model import check_plain, dual_loss, lambda_at, read_plain

log = logging.getLogger(__name__)


def seed_everything(seed):
    torch.manual_seed(seed)
    np.random.seed(seed)


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


def train(model, sequences, lengths, targets, class_vectors, epochs, batch_size, lr, lam,
          warmup, seed, device="cpu", progress=True, resume=None):
    """Adam on the dual loss; returns the history, one dict per epoch (mean loss terms).

    ``targets`` index ``class_vectors`` (the seen classes' word vectors). With ``resume`` (a
    path), the full training state is saved there after every epoch and, if the file exists,
    training continues from it; a resumed run ends exactly as an uninterrupted one.

    Under torchrun the model is wrapped in DistributedDataParallel: every batch is split
    between the processes (so the ranking loss's contrastive videos come from each process's
    part) and their gradients are averaged; only rank 0 writes the resume state.
    """
    before = torch.get_num_threads()
    if torch.device(device).type == "cpu":
        # One thread: multi-threaded CPU training gave one of two different models in about 1
        # run in 4 on an AVX-512 machine (neither MKL_CBWR nor deterministic algorithms helped);
        # with one thread every run is the same, at about 1.5x the time.
        torch.set_num_threads(1)
    try:
        return run_epochs(model, sequences, lengths, targets, class_vectors, epochs, batch_size,
                          lr, lam, warmup, seed, device, progress, resume)
    finally:
        torch.set_num_threads(before)


def run_epochs(model, sequences, lengths, targets, class_vectors, epochs, batch_size, lr, lam,
               warmup, seed, device, progress, resume):
    """The training loop of ``train``."""
    device = torch.device(device)
    model.to(device).train()
    rank, world = distributed.rank_and_size()
    net = distributed.wrap(model, device)
    x = torch.as_tensor(sequences)
    n_steps = torch.as_tensor(lengths)
    y = torch.as_tensor(targets)
    vectors = torch.as_tensor(class_vectors, device=device)
    optimizer = torch.optim.Adam(model.parameters(), lr=lr)
    cuda = device.type == "cuda"  # float16 autocast with loss scaling on a GPU; float32 on a CPU
    scaler = torch.amp.GradScaler("cuda", enabled=cuda)
    order = torch.Generator().manual_seed(seed)
    steps_per_epoch = -(-len(x) // batch_size)
    history, step, first = [], 0, 0
    state = load_state(resume, device) if resume and Path(resume).is_file() else None
    if state:
        model.load_state_dict(state["model"])
        optimizer.load_state_dict(state["optimizer"])
        if state.get("scaler"):
            scaler.load_state_dict(state["scaler"])
        order.set_state(state["order"])
        torch.set_rng_state(state["rng"])
        history, step, first = state["history"], state["step"], len(state["history"])
        log.info("resuming training after epoch %d from %s", first, resume)
    bar = tqdm(range(first, epochs), desc="train", unit="epoch", disable=not progress,
               initial=first, total=epochs)
    for epoch in bar:
        sums = np.zeros(3)
        for batch in torch.randperm(len(x), generator=order).split(batch_size):
            idx = batch[rank::world] if len(batch) >= world else batch[:1]
            weight = lambda_at(step, steps_per_epoch, lam, warmup)
            with torch.autocast(device.type, dtype=torch.float16, enabled=cuda):
                embeddings, logits = net(x[idx].to(device, non_blocking=True),
                                         n_steps[idx].to(device))
            total, ranking, cross_entropy = dual_loss(embeddings.float(), logits.float(),
                                                      y[idx].to(device), vectors, weight)
            optimizer.zero_grad()
            scaler.scale(total).backward()
            scaler.step(optimizer)
            scaler.update()
            sums += [total.item() * len(idx), ranking.item() * len(idx),
                     cross_entropy.item() * len(idx)]
            step += 1
        means = np.sum(distributed.gather(sums), axis=0) / len(x)
        row = dict(zip(("loss", "ranking_loss", "cross_entropy"), means.tolist()))  # floats
        history.append({"epoch": epoch + 1, **row, "lambda": weight})
        bar.set_postfix(loss=f"{row['loss']:.4f}")
        if resume and rank == 0:
            save_state(resume, {"model": model.state_dict(), "optimizer": optimizer.state_dict(),
                                "scaler": scaler.state_dict(),
                                "order": order.get_state(), "rng": torch.get_rng_state(),
                                "history": history, "step": step})
    model.eval()
    return history


@torch.no_grad()
def embed(model, sequences, lengths, batch_size=256, device="cpu"):
    """Embeddings (N, embed_dim) of padded sequences, in eval mode."""
    model.to(device).eval()
    out = []
    for start in range(0, len(sequences), batch_size):
        x = torch.as_tensor(sequences[start:start + batch_size], device=device)
        n = torch.as_tensor(lengths[start:start + batch_size], device=device)
        out.append(model.embed(x, n).cpu())
    return torch.cat(out).numpy()
