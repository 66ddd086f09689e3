"""What every pipeline stage shares: logging, user errors printed without a traceback, and
results printed as aligned text tables (the ``action2vec`` command and the scripts print theirs
with ``table`` too)."""

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


def table(rows, headers=None, right=None, digits=3):
    """Rows of cells as aligned text columns under ``headers``: floats with ``digits`` decimals,
    None as "-". ``right`` says which columns are right-aligned; by default those whose first
    row holds a number."""
    def text(cell):
        if cell is None:
            return "-"
        return f"{cell:.{digits}f}" if isinstance(cell, float) else str(cell)

    cells = [[text(c) for c in row] for row in ([headers] if headers else []) + list(rows)]
    width = [max(len(row[i]) for row in cells) for i in range(len(cells[0]))]
    if right is None:
        right = [isinstance(c, (int, float)) for c in (rows[0] if rows else headers)]
    return "\n".join("  ".join(c.rjust(w) if r else c.ljust(w)
                               for c, w, r in zip(row, width, right)).rstrip()
                     for row in cells)
