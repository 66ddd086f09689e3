"""What every pipeline stage shares: logging, and user errors printed without a traceback."""

import logging
import sys

from action2vec import Action2VecError


def run(main):
    """Run a stage's ``main``; an Action2VecError becomes a one-paragraph message and exit 1."""
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s",
                        stream=sys.stderr)
    try:
        main()
    except Action2VecError as exc:
        print(f"error: {exc}", file=sys.stderr)
        sys.exit(1)
