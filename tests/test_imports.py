"""The code a script runs, read from the source (action2vec/imports.py), and the training reuse
key built on it (jobs.code_digest): the same for a copy of the package anywhere, changed by an
edit to any code a training runs and by no other."""

import shutil
from pathlib import Path

import pytest

import action2vec
from action2vec.imports import import_closure, lazy_table, resources_read
from action2vec.jobs import code_digest

from conftest import ROOT


def write(path, text):
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    return path


def small_package(root):
    """A package ``action2vec`` in ``root`` whose modules import each other in every way the
    closure must follow; ``unused`` and ``other_lazy`` are never imported."""
    package = root / "action2vec"
    write(package / "__init__.py", 'LAZY = {"Thing": "action2vec.lazy", '
                                   '"Other": "action2vec.other_lazy"}\n')
    write(package / "a.py", "import os\nimport action2vec.b\nfrom . import c\n"
                            "from .sub.d import value\n")
    write(package / "b.py", "def later():\n    from action2vec import Thing\n")
    write(package / "c.py", 'TABLE = "table.csv"\n')
    write(package / "sub" / "__init__.py", "")
    write(package / "sub" / "d.py", "from ..e import f\nvalue = 1\n")
    write(package / "e.py", "import numpy\nf = 2\n")
    write(package / "lazy.py", "")
    write(package / "other_lazy.py", "")
    write(package / "unused.py", "")
    write(package / "resources" / "table.csv", "")
    write(package / "resources" / "unread.csv", "")
    return package


def test_the_closure_follows_every_kind_of_import(tmp_path):
    """Absolute and relative imports, a submodule imported by name, an import inside a function,
    and a name of the LAZY table (followed to its module, read from __init__.py by ast)."""
    package = small_package(tmp_path)
    script = write(tmp_path / "stages" / "s.py", "from action2vec.a import something\n")
    found = import_closure(script, tmp_path)
    expected = ["__init__.py", "a.py", "b.py", "c.py", "e.py", "lazy.py", "sub/__init__.py",
                "sub/d.py"]
    assert sorted(p.relative_to(package).as_posix() for p in found) == expected
    assert resources_read(found, tmp_path) == {package / "resources" / "table.csv"}


def test_the_lazy_table_read_from_the_source_is_the_package_s():
    assert lazy_table(ROOT) == action2vec.LAZY


@pytest.fixture
def package(tmp_path):
    """A copy of the installed package, elsewhere."""
    return Path(shutil.copytree(ROOT / "action2vec", tmp_path / "code" / "action2vec",
                                ignore=shutil.ignore_patterns("__pycache__")))


def test_the_training_code_digest_is_the_same_for_a_copy_elsewhere(package):
    assert code_digest(package) == code_digest()


# jobs.py prepares a training's input sequences and writes its outputs (with pca.py,
# sequences.py, splits.py); training.py and model.py train; scoring.py chooses the epoch.
TRAINING = ["jobs.py", "training.py", "model.py", "sequences.py", "pca.py", "splits.py",
            "scoring.py", "resources/truze_splits.csv"]
NOT_TRAINING = ["cli.py", "export.py", "semantics.py", "baseline.py", "leakage.py",
                "resources/paper_table1.csv"]


@pytest.mark.parametrize("name", TRAINING + NOT_TRAINING)
def test_the_training_code_digest_changes_with_the_code_a_training_runs_alone(package, name):
    before = code_digest(package)
    with (package / name).open("a") as handle:
        handle.write("# an edit\n")
    changed = code_digest(package) != before
    assert changed == (name in TRAINING), (f"an edit to {name} "
                                           f"{'changes' if changed else 'keeps'} the digest")
