"""File helpers shared by the stages and the command: atomic writes, checksums, and reading
the JSON files that stages write."""

import contextlib
import hashlib
import json
import os
from pathlib import Path

from action2vec import Action2VecError


@contextlib.contextmanager
def atomic(path):
    """Yield a temporary path beside ``path``; on success it is renamed to ``path``, so a
    reader never sees a partial file and an interrupted write leaves the old one in place.
    On failure the temporary file is removed."""
    path = Path(path)
    tmp = path.with_name(path.name + ".tmp")
    try:
        yield tmp
        os.replace(tmp, path)
    finally:
        if tmp.exists():
            tmp.unlink()


def file_sha256(path):
    """SHA-256 of a file's bytes, read in blocks."""
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def read_stage_json(path, what, stage):
    """(data, bad) of a JSON file that ``stage`` writes: a missing or unparsable file is an
    Action2VecError naming it; ``bad(problem)`` builds the error for content that is not
    ``what`` (e.g. "a classes file of the labels stage"), telling the user to rerun the stage."""
    def bad(problem):
        return Action2VecError(f"{path}: not {what} ({problem}); run `dvc repro {stage}` to "
                               "write it again")

    try:
        return json.loads(Path(path).read_text()), bad
    except FileNotFoundError:
        raise Action2VecError(f"{path}: not found; run `dvc repro {stage}` to write it") from None
    except (OSError, ValueError) as exc:
        raise bad(f"{type(exc).__name__}: {exc}") from None
