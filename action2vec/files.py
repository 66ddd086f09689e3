"""File helpers shared by the stages and the command: atomic writes and checksums."""

import contextlib
import hashlib
import os
from pathlib import Path


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
