"""What every pipeline stage shares: logging, user errors printed without a traceback, and
results printed as aligned text tables (the ``action2vec`` command and the scripts print theirs
with ``table`` too)."""

import errno
import logging
import shutil
import sys

from action2vec import Action2VecError


def run(main):
    """Run a stage's ``main``; an Action2VecError becomes a one-paragraph message and exit 1,
    as does a write that failed because the disk is full (h5py, torch and the OS each say it in
    their own words)."""
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s",
                        stream=sys.stderr)
    try:
        main()
    except Action2VecError as exc:
        print(f"error: {exc}", file=sys.stderr)
        sys.exit(1)
    except (OSError, RuntimeError) as exc:
        if not is_disk_full(exc):
            raise
        said = (str(exc).strip().splitlines() or [type(exc).__name__])[0][:200]
        print(f"error: the disk is full ({shutil.disk_usage('.').free // 2**20} MiB free): "
              f"{said}; free some space and run again", file=sys.stderr)
        sys.exit(1)


def is_disk_full(exc, margin=64 * 2**20):
    """Whether an error from a write comes from a full disk: the OS's ENOSPC, h5py's "errno =
    28", or torch's C++ stream errors while the project's disk is nearly full. The errors an
    error was raised from are looked at too (torch raises a second one while closing)."""
    chain = []
    while exc is not None and exc not in chain:
        chain.append(exc)
        exc = exc.__cause__ or exc.__context__
    text = " ".join(str(e) for e in chain)
    return (any(getattr(e, "errno", None) == errno.ENOSPC for e in chain)
            or "No space left" in text or "errno = 28" in text
            or ("iostream error" in text and shutil.disk_usage(".").free < margin))


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
