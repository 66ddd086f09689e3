"""The whole DVC pipeline on a tiny configuration, in a temporary git repository:
dvc repro, a no-op repro, dvc exp run -S lambda=..., dvc metrics diff, and a misspelt key."""

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[1]
PROJECT_FILES = ["dvc.yaml", "params.yaml", "stages", "action2vec", ".dvc/config", ".dvcignore"]
TINY = {
    "render": {"videos_per_class": 2, "frames": 16},
    "pca": {"dims": 8},
    "sequence": {"steps": 6},
    "train": {"chunk": 3, "lstm1": 32, "lstm2": 16, "attention": 8, "epochs": 2,
              "batch_size": 8},
}


def sh(repo, *args, check=True):
    env = {**os.environ, "PATH": f"{Path(sys.executable).parent}:{os.environ['PATH']}",
           "DVC_NO_ANALYTICS": "1", "DVC_SITE_CACHE_DIR": str(repo / ".site-cache"),
           "GIT_AUTHOR_NAME": "t", "GIT_AUTHOR_EMAIL": "t@t", "GIT_COMMITTER_NAME": "t",
           "GIT_COMMITTER_EMAIL": "t@t"}
    done = subprocess.run(args, cwd=repo, env=env, capture_output=True, text=True)
    if check and done.returncode != 0:
        raise AssertionError(f"{' '.join(args)} failed:\n{done.stdout}\n{done.stderr}")
    return done


@pytest.fixture(scope="module")
def repo(tmp_path_factory):
    repo = tmp_path_factory.mktemp("pipeline")
    for name in PROJECT_FILES:
        source, target = ROOT / name, repo / name
        target.parent.mkdir(parents=True, exist_ok=True)
        if source.is_dir():
            shutil.copytree(source, target, ignore=shutil.ignore_patterns("__pycache__"))
        else:
            shutil.copy(source, target)
    params = yaml.safe_load((ROOT / "params.yaml").read_text())
    for section, values in TINY.items():
        params[section].update(values)
    (repo / "params.yaml").write_text(yaml.safe_dump(params, sort_keys=False))
    (repo / ".gitignore").write_text(".site-cache/\n")
    sh(repo, "git", "init", "-q")
    sh(repo, "git", "add", "-A")
    sh(repo, "git", "commit", "-qm", "tiny pipeline")
    repro = sh(repo, "dvc", "repro")
    sh(repo, "git", "add", "-A")
    sh(repo, "git", "commit", "-qm", "results")
    return repo, repro


def test_repro_runs_every_stage_and_writes_metrics(repo):
    repo, repro = repo
    for stage in ("render", "decode", "labels", "extract", "pca", "sequence", "train",
                  "evaluate"):
        assert f"Running stage '{stage}'" in repro.stdout
    zsl = json.loads((repo / "metrics/zsl.json").read_text())
    assert 0 <= zsl["action2vec"]["top1"] <= 1 and 0 <= zsl["pooled_c3d"]["top1"] <= 1
    assert zsl["n_unseen_classes"] == 5 and zsl["n_test_videos"] == 10
    assert "RANDOM initialisation" in repro.stderr  # no weights file: said loudly


def test_second_repro_does_no_work(repo):
    repo, _ = repo
    again = sh(repo, "dvc", "repro")
    assert "Running stage" not in again.stdout
    assert "up to date" in again.stdout


def test_same_params_give_the_same_metrics(repo):
    repo, _ = repo
    sh(repo, "dvc", "repro", "--force", "--single-item", "train")
    sh(repo, "dvc", "repro")
    assert sh(repo, "git", "status", "--porcelain", "metrics").stdout == ""


def test_exp_run_with_lambda_reruns_only_training_and_metrics_diff_shows_it(repo):
    repo, _ = repo
    exp = sh(repo, "dvc", "exp", "run", "-S", "lambda=0.5")
    assert "Running stage 'train'" in exp.stdout and "Running stage 'evaluate'" in exp.stdout
    assert "Running stage 'extract'" not in exp.stdout
    diff = sh(repo, "dvc", "metrics", "diff").stdout
    assert "metrics/train.json" in diff and "final_lambda" in diff and "0.5" in diff


def test_misspelt_key_from_exp_run_is_an_error_naming_it(repo):
    repo, _ = repo
    # `+key=value` makes DVC add a key params.yaml does not have; the stage must refuse it
    exp = sh(repo, "dvc", "exp", "run", "-S", "+train.epoch=3", check=False)
    assert exp.returncode != 0
    assert "train.epoch: unknown key" in exp.stdout + exp.stderr
