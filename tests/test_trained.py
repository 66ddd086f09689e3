"""The pieces of the trained-pipeline tool that need no trained project (those that do are run
end to end in test_cli.py)."""

import pickle

import numpy as np
import pytest
import torch

from action2vec import Action2VecError
from action2vec import trained
from action2vec.cli import main
from action2vec.model import HRNN, HRNNConfig, save_model
from action2vec.paths import PCA_MODEL
from action2vec.trained import Trained, nearest, parse_expression, suggest

from conftest import RunsCode


@pytest.mark.parametrize("tokens, want", [
    (["play piano", "-", "piano", "+", "violin"], [(1, "play piano"), (-1, "piano"),
                                                   (1, "violin")]),
    (["play piano - piano + violin"], [(1, "play piano"), (-1, "piano"), (1, "violin")]),
    (["play", "piano", "-", "piano"], [(1, "play piano"), (-1, "piano")]),
    (["-", "piano", "+", "violin"], [(-1, "piano"), (1, "violin")]),
    (["t-shirt", "+", "x"], [(1, "t-shirt"), (1, "x")]),  # a hyphen inside a word is no operator
    (["ball"], [(1, "ball")]),
])
def test_parse_expression(tokens, want):
    assert parse_expression(tokens) == want


@pytest.mark.parametrize("tokens", [["a", "-", "-", "b"], ["a", "+"], ["-"], [""]])
def test_a_malformed_expression_is_an_error(tokens):
    with pytest.raises(Action2VecError, match="analogy: "):
        parse_expression(tokens)


def test_suggest_finds_close_frequent_spellings():
    vocab = ["the", "violin", "violins", "violence", "viola", "xylophone", "violinn2"]
    assert suggest("violinn", vocab, head=6)[:2] == ["violin", "violins"]
    assert "violinn2" in suggest("violinn", vocab)
    assert "violinn2" not in suggest("violinn", vocab, head=6)  # only the most frequent
    assert suggest("qqqq", vocab) == []


def test_nearest_ranks_by_cosine_and_leaves_out_excluded_names():
    names = ["a", "b", "c"]
    matrix = np.array([[1.0, 0.0], [1.0, 1.0], [-1.0, 0.0]])
    assert [n for n, _ in nearest([2.0, 0.1], names, matrix, 3)] == ["a", "b", "c"]
    found = nearest([2.0, 0.1], names, matrix, 2, exclude={"a"})
    assert [n for n, _ in found] == ["b", "c"]
    assert found[0][1] == pytest.approx(np.cos(np.pi / 4 - np.arctan(0.05)))


def command(capsys, *args):
    """``action2vec ARGS``, run in-process: (exit status, what it printed on stderr)."""
    status = main([str(a) for a in args])
    return status, capsys.readouterr().err


@pytest.mark.parametrize("subcommand", ["embed", "nearest"])
def test_a_model_that_would_run_code_is_refused_unrun(tmp_path, capsys, video_file,
                                                      subcommand):
    evil, marker = tmp_path / "evil.pt", tmp_path / "MARKER"
    torch.save({"config": RunsCode(marker), "state_dict": {}}, evil)
    term = video_file() if subcommand == "embed" else "ball"
    status, err = command(capsys, subcommand, "--project", tmp_path, "--model", evil, term)
    assert status == 1
    assert err.startswith(f"error: {evil}: refused: not a plain-data checkpoint")
    with pytest.raises(Action2VecError, match="refused: not a plain-data checkpoint"):
        Trained(tmp_path, model=evil)
    assert not marker.exists()


def test_a_pickled_pca_in_the_project_is_refused_unrun(tmp_path, capsys):
    marker = tmp_path / "MARKER"
    model = tmp_path / trained.MODEL
    model.parent.mkdir(parents=True)
    save_model(model, HRNN(HRNNConfig(input_dim=4, embed_dim=3, n_classes=2, lstm1=4, lstm2=4,
                                      attention=0)), {"variant": "action2vec", "steps": 3})
    projection = tmp_path / PCA_MODEL
    projection.parent.mkdir(parents=True)
    projection.write_bytes(pickle.dumps(RunsCode(marker)))
    status, err = command(capsys, "nearest", "--project", tmp_path, "ball")
    assert status == 1
    assert err.startswith(f"error: {projection}: not a PCA projection written by the pca stage "
                          "(refused:")
    assert not marker.exists()
