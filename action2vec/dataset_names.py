"""The names ``dataset.name`` accepts, and what a former name is called now.

Imports nothing, so that params.yaml is validated, and every stage's dependencies are stated,
without the code that lists each dataset's videos (dataset.py maps each name to its lister).
"""

RENDERED = "rendered"
NAMES = (RENDERED, "ucf101", "hmdb51", "kinetics400", "folder", "list")
OWN_CLASSES = ("folder", "list")  # datasets whose class names are the user's own
RENAMED = {"embedded": RENDERED}  # former dataset names: what each is called now


def name_problem(name):
    """What is wrong with ``name`` as ``dataset.name`` (None when nothing): a former name says
    what it is called now, so that an old params.yaml or ``-S dataset.name=...`` is told."""
    if not isinstance(name, str) or name not in NAMES and name not in RENAMED:
        return f"unknown dataset {name!r}; known: {sorted(NAMES)}"
    if name in RENAMED:
        return f"the dataset {name!r} was renamed to {RENAMED[name]!r}; set it to {RENAMED[name]}"
    return None
