import json
import logging
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

from action2vec.model import HRNN, HRNNConfig
from action2vec.training import embed, train
from action2vec.zsl import top_k_accuracy

from conftest import RunsCode

def toy_problem():
    """Sequences whose mean encodes the class vector: learnable in a few epochs."""
    rng = np.random.default_rng(0)
    vectors = rng.normal(size=(4, 5)).astype(np.float32)
    targets = np.repeat(np.arange(4), 6)
    sequences = (vectors[targets][:, None, :].repeat(4, 1)
                 + 0.1 * rng.normal(size=(24, 4, 5))).astype(np.float32)
    return sequences, np.full(24, 4), targets, vectors


def test_training_lowers_the_loss_and_is_deterministic():
    sequences, lengths, targets, vectors = toy_problem()

    def run():
        torch.manual_seed(0)
        model = HRNN(HRNNConfig(input_dim=5, embed_dim=5, n_classes=4, chunk=2, lstm1=16,
                                lstm2=8, attention=8, dropout=0.0))
        history = train(model, sequences, lengths, targets, vectors, epochs=25, batch_size=8,
                        lr=0.01, lam=0.02, warmup=0.75, seed=0, progress=False)
        return model, history

    model, history = run()
    assert history[-1]["loss"] < 0.5 * history[0]["loss"]
    assert history[-1]["lambda"] == pytest.approx(0.02)
    assert top_k_accuracy(embed(model, sequences, lengths), targets, vectors, 1) > 0.9
    assert run()[1] == history


def run_toy(epochs, resume=None):
    """(model, history) of a small seeded training run on the toy problem."""
    sequences, lengths, targets, vectors = toy_problem()
    torch.manual_seed(0)
    model = HRNN(HRNNConfig(input_dim=5, embed_dim=5, n_classes=4, chunk=2, lstm1=16,
                            lstm2=8, attention=8, dropout=0.3))
    history = train(model, sequences, lengths, targets, vectors, epochs=epochs, batch_size=8,
                    lr=0.01, lam=0.02, warmup=0.75, seed=0, progress=False, resume=resume)
    return model, history


def test_interrupted_training_resumes_to_the_same_result(tmp_path, caplog):
    whole_model, whole = run_toy(5)
    state = tmp_path / "resume.pt"
    _, first_part = run_toy(2, resume=state)  # as if stopped after epoch 2
    assert state.is_file() and first_part == whole[:2]
    caplog.set_level(logging.INFO, "action2vec.training")
    resumed_model, resumed = run_toy(5, resume=state)
    assert f"resuming training after epoch 2 from {state}" in caplog.text  # not started over
    assert resumed == whole
    for a, b in zip(whole_model.parameters(), resumed_model.parameters()):
        assert torch.equal(a, b)
    assert torch.load(state, weights_only=True)["history"] == whole  # plain data only


@pytest.mark.parametrize("damage", ["runs code", "truncated"])
def test_a_resume_state_that_cannot_be_loaded_safely_starts_over(tmp_path, caplog, damage):
    state, marker = tmp_path / "resume.pt", tmp_path / "MARKER"
    if damage == "runs code":
        torch.save({"model": RunsCode(marker), "history": []}, state)
    else:
        run_toy(1, resume=state)
        state.write_bytes(state.read_bytes()[:300])
    _, history = run_toy(2, resume=state)
    assert not marker.exists()
    assert history == run_toy(2)[1]  # trained from epoch 0
    assert f"{state}: " in caplog.text and "training from epoch 0" in caplog.text
    assert torch.load(state, weights_only=True)["step"] > 0  # replaced by a good state


DDP_SCRIPT = '''
import json, sys
import numpy as np, torch
sys.path.insert(0, {tests!r})
from test_training import toy_problem
from action2vec import distributed
from action2vec.model import HRNN, HRNNConfig
from action2vec.training import embed, train
from action2vec.zsl import top_k_accuracy

rank, world = distributed.setup("cpu")
sequences, lengths, targets, vectors = toy_problem()
torch.manual_seed(0)
model = HRNN(HRNNConfig(input_dim=5, embed_dim=5, n_classes=4, chunk=2, lstm1=16, lstm2=8,
                        attention=8, dropout=0.0))
history = train(model, sequences, lengths, targets, vectors, epochs=25, batch_size=8, lr=0.01,
                lam=0.02, warmup=0.75, seed=0, progress=False)
weights = torch.cat([p.detach().flatten() for p in model.parameters()]).numpy()
spread = float(np.ptp(np.stack(distributed.gather(weights)), axis=0).max())
accuracy = top_k_accuracy(embed(model, sequences, lengths), targets, vectors, 1)
distributed.finish()
if rank == 0:
    print(json.dumps({{"world": world, "spread": spread, "first": history[0]["loss"],
                      "last": history[-1]["loss"], "accuracy": accuracy}}))
'''


def test_data_parallel_training_under_torchrun_keeps_ranks_in_step(tmp_path):
    script = tmp_path / "ddp.py"
    script.write_text(DDP_SCRIPT.format(tests=str(Path(__file__).parent)))
    done = subprocess.run([sys.executable, "-m", "torch.distributed.run", "--standalone",
                           "--nproc_per_node", "2", str(script)],
                          capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    out = json.loads(done.stdout.strip().splitlines()[-1])
    assert out["world"] == 2
    assert out["spread"] == 0.0  # DistributedDataParallel keeps both copies identical
    assert out["last"] < 0.5 * out["first"]
    assert out["accuracy"] > 0.9
