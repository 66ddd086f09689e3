"""Copies of the project in new git repositories, for real DVC runs: the test suite's shared
pipeline (tests/conftest.py) and the GPU benchmark's end-to-end run (bench/gpu.py)."""

import os
import shutil
import subprocess
import sys
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[1]


def set_params(root, **changes):
    """Change a project's params.yaml: {section: {key: value}} updates a section, any other
    value replaces the key."""
    tree = yaml.safe_load((root / "params.yaml").read_text())
    for section, values in changes.items():
        if isinstance(values, dict):
            tree[section].update(values)
        else:
            tree[section] = values
    (root / "params.yaml").write_text(yaml.safe_dump(tree, sort_keys=False))


# What `dvc repro` needs in a project (the data is made by its render stage).
PROJECT_FILES = ["dvc.yaml", "params.yaml", "stages", "action2vec", "data/descriptions",
                 ".dvc/config", ".dvcignore"]


def project_env(repo):
    """This environment's Python and dvc first on PATH, DVC's site cache kept in the project,
    and a git identity for its commits."""
    return {**os.environ, "PATH": f"{Path(sys.executable).parent}:{os.environ['PATH']}",
            "DVC_NO_ANALYTICS": "1", "DVC_SITE_CACHE_DIR": str(repo / ".site-cache"),
            "GIT_AUTHOR_NAME": "tests", "GIT_AUTHOR_EMAIL": "tests@localhost",
            "GIT_COMMITTER_NAME": "tests", "GIT_COMMITTER_EMAIL": "tests@localhost"}


def sh(repo, *args, check=True):
    """Run a command in a project, with the test's Python first on PATH and DVC kept local."""
    done = subprocess.run([str(a) for a in args], cwd=repo, env=project_env(repo),
                          capture_output=True, text=True)
    if check and done.returncode != 0:
        raise AssertionError(f"{' '.join(map(str, args))} failed:\n{done.stdout}\n{done.stderr}")
    return done


def commit(repo, message):
    sh(repo, "git", "add", "-A")
    sh(repo, "git", "commit", "-qm", message)


def new_project(repo, changes):
    """The project's files in a new git repository at ``repo``, params changed by ``changes``,
    committed and ready for ``dvc repro``."""
    for name in PROJECT_FILES:
        source, target = ROOT / name, repo / name
        target.parent.mkdir(parents=True, exist_ok=True)
        if source.is_dir():
            shutil.copytree(source, target, ignore=shutil.ignore_patterns("__pycache__"))
        else:
            shutil.copy(source, target)
    set_params(repo, **changes)
    (repo / ".gitignore").write_text(".site-cache/\n")
    sh(repo, "git", "init", "-q")
    commit(repo, "project")
    return repo
