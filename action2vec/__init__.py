"""Action2Vec: a joint video-verb embedding (Hahn, Silva, Rehg), as a DVC pipeline.

Import what you need from the submodules, e.g. ``from action2vec.model import load_model``
or ``from action2vec.extractors import make_extractor``.
"""

__version__ = "0.1.0"


class Action2VecError(Exception):
    """An error caused by input (params, files, data) that a user can fix; stages print it."""
