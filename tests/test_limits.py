"""The memory and disk checks: the parameter count against the model's own, refusals naming the
keys, and disk space figures that read differently when they differ."""

import copy
import errno

import h5py
import numpy as np
import pytest
import torch

from action2vec import params
from action2vec.limits import hrnn_parameters, memory_problems, training_bytes
from action2vec.model import HRNN, HRNNConfig
from action2vec.stage import is_disk_full, run

from conftest import ROOT, fill

DEFAULT = params.read(ROOT / "params.yaml")
GIB = 2**30


@pytest.mark.parametrize("kind", ["hrnn", "stacked", "single"])
@pytest.mark.parametrize("attention", [0, 8])
def test_the_parameter_count_is_the_models(kind, attention):
    config = HRNNConfig(input_dim=12, embed_dim=7, n_classes=5, kind=kind, chunk=2, lstm1=10,
                        lstm2=6, attention=attention)
    counted = sum(p.numel() for p in HRNN(config).parameters())
    assert hrnn_parameters(12, 7, 5, kind, 10, 6, attention) == counted


def with_changes(**sections):
    tree = copy.deepcopy(DEFAULT)
    for section, values in sections.items():
        tree[section].update(values)
    return tree


def test_the_default_params_fit_in_a_small_machine():
    assert memory_problems(DEFAULT, cores=2, limit=4 * GIB) == []


def test_a_network_too_big_for_the_machine_is_refused_naming_its_keys():
    tree = with_changes(train={"lstm1": 100000})
    # 4 x 100000 x (128 + 100000) weights, with gradients and Adam's moments: about 600 GiB
    assert training_bytes(tree["train"], 128, 52) > 4 * 4 * 4e10
    problems = memory_problems(tree, cores=2, limit=24 * GIB)
    assert len(problems) == 1
    assert problems[0].startswith("train.lstm1/lstm2/attention/batch_size (x train.workers): "
                                  "about ")
    assert "24.0 GiB on this machine" in problems[0]


def test_parallel_trainings_count_once_each():
    tree = with_changes(train={"lstm1": 8192, "lstm2": 4096, "workers": None})
    one = training_bytes(tree["train"], 128, 52)
    assert memory_problems(tree, cores=1, limit=int(one * 1.5)) == []
    assert memory_problems(tree, cores=2, limit=int(one * 1.5)) != []


@pytest.mark.parametrize("section,values,keys", [
    ("decode", {"max_seconds": 3600, "workers": 64}, "decode.fps/max_seconds/workers"),
    ("features", {"batch_size": 60000}, "features.batch_size"),
    ("render", {"frames": 10**5, "width": 4096, "height": 4096}, "render.frames/width/height"),
])
def test_each_stage_too_big_for_the_machine_is_refused(section, values, keys):
    problems = memory_problems(with_changes(**{section: values}), cores=2, limit=24 * GIB)
    assert [p.split(":")[0] for p in problems] == [keys]


def test_disk_full_errors_are_known_by_their_words():
    assert is_disk_full(OSError(errno.ENOSPC, "No space left on device"))
    assert is_disk_full(OSError("Can't write data (file write failed: errno = 28, ...)"))
    assert not is_disk_full(OSError(errno.ENOENT, "No such file or directory"))
    assert not is_disk_full(RuntimeError("shape mismatch"))


@pytest.mark.parametrize("writer", ["h5py", "torch"])
def test_a_full_disk_ends_a_stage_with_one_line(small_disk, capsys, monkeypatch, writer):
    fill(small_disk, free=4096)
    monkeypatch.chdir(small_disk)  # a stage runs in the project, whose disk is full

    def main():
        if writer == "h5py":
            with h5py.File(small_disk / "big.h5", "w") as f:
                f["x"] = np.ones((1000, 1000), np.float32)
        else:
            torch.save({"x": torch.ones(1000, 1000)}, small_disk / "big.pt")

    with pytest.raises(SystemExit) as exit_:
        run(main)
    assert exit_.value.code == 1
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("error: the disk is full"), err
