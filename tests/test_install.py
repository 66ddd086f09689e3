"""scripts/check_install.py, which `make install` runs: the venv holds one torch, the version
setup.cfg pins, and sentence-transformers imports on it."""

import sys

from conftest import ROOT

sys.path.insert(0, str(ROOT / "scripts"))
import check_install  # noqa: E402


def test_the_venv_has_one_torch_the_pinned_one_and_the_sentence_model():
    assert check_install.pinned("torch") == "2.13.0"
    assert [name.lower() for name, _ in check_install.torch_distributions()] == ["torch"]
    assert check_install.problems() == []

