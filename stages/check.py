"""Stage check: the whole of params.yaml, before any other stage runs.

Every other stage comes after this one, and DVC removes a stage's outputs just before running
it, so a value refused here (an unknown key from ``dvc exp run -S +trian.epochs=2``, a NaN, a
size the machine cannot hold, a file that is not there) stops the run with every earlier output
in place. The stage depends on params.yaml as a file, so any edit of it reruns the check; its
output never changes, so the check alone reruns nothing after it.
"""

import logging

from action2vec import params
from action2vec.files import atomic
from action2vec.labels import label_file_problems
from action2vec.limits import memory_problems, usable_cores
from action2vec.paths import PARAMS, PARAMS_CHECKED
from action2vec.stage import run

log = logging.getLogger("check")

CHECKED = "params.yaml passed the checks of stages/check.py\n"


def main():
    tree = params.read()
    problems = (params.file_problems(tree) + label_file_problems(tree)
                + memory_problems(tree, usable_cores()))
    if problems:
        raise params.ParamsError(f"{PARAMS} cannot run:\n  " + "\n  ".join(problems))
    PARAMS_CHECKED.parent.mkdir(parents=True, exist_ok=True)
    if not PARAMS_CHECKED.is_file() or PARAMS_CHECKED.read_text() != CHECKED:
        with atomic(PARAMS_CHECKED) as tmp:
            tmp.write_text(CHECKED)
    log.info("%s: every key known, every value in range, files there, memory enough", PARAMS)


if __name__ == "__main__":
    run(main)
