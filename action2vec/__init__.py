"""Action2Vec: a joint video-verb embedding (Hahn, Silva, Rehg), as a DVC pipeline.

``from action2vec import Action2Vec`` gives the trained embedding as one object (embedding.py).
The library's parts are in the submodules, e.g. ``from action2vec.model import load_model``.
"""

import importlib

__version__ = "0.1.0"

# Names exported from submodules on first use, so that importing the package (every stage
# does) imports nothing else; the import closure of tests/test_dvc_yaml.py and of the training
# reuse key (imports.py) follows these.
LAZY = {"Action2Vec": "action2vec.embedding"}


def __getattr__(name):
    if name in LAZY:
        return getattr(importlib.import_module(LAZY[name]), name)
    raise AttributeError(f"module 'action2vec' has no attribute {name!r}")


class Action2VecError(Exception):
    """An error caused by input (params, files, data) that a user can fix; stages print it."""
