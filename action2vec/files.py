"""File helpers shared by the stages and the command: atomic writes, checksums, and one way to
read a text or JSON file, a user's or a stage's, that says which file is wrong and how (missing,
not a regular file, too large, not UTF-8, not JSON, nested too deeply) instead of a traceback."""

import codecs
import contextlib
import hashlib
import json
import os
import shutil
import stat
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


NOT_FOUND = "not found"
NOT_UTF8 = "not UTF-8 text"
TEXT_LIMIT = 64 << 20  # bytes: far more than any list of class names, map or descriptions
SPECIAL_FILES = ((stat.S_ISDIR, "a folder"), (stat.S_ISFIFO, "a named pipe (FIFO)"),
                 (stat.S_ISCHR, "a character device"), (stat.S_ISBLK, "a block device"),
                 (stat.S_ISSOCK, "a socket"))


def file_problem(path):
    """None for a regular file (links followed); else what it is instead: NOT_FOUND, "not a
    regular file but a named pipe (FIFO)", .... Reading a pipe or a device would wait or never
    end, so they are refused before they are opened."""
    try:
        mode = os.stat(path).st_mode
    except FileNotFoundError:
        return NOT_FOUND
    except OSError as exc:
        return f"cannot read it ({exc.strerror})"
    if stat.S_ISREG(mode):
        return None
    kind = next((kind for test, kind in SPECIAL_FILES if test(mode)), "a special file")
    return f"not a regular file but {kind}"


def text_of(path, limit=TEXT_LIMIT):
    """(text, None) of a UTF-8 text file (a leading byte-order mark dropped), or (None, what is
    wrong with it): see file_problem, larger than ``limit`` bytes, not UTF-8 (the first bad
    byte, its offset and line), or holding a NUL byte."""
    problem = file_problem(path)
    if problem:
        return None, problem
    if os.path.getsize(path) > limit:  # refused before it is read
        return None, too_large(path, limit)
    try:
        with open(path, "rb") as f:
            data = f.read(limit + 1)
    except OSError as exc:
        return None, f"cannot read it ({exc.strerror})"
    if len(data) > limit:  # it grew while it was read
        return None, too_large(path, limit)
    start = len(codecs.BOM_UTF8) if data.startswith(codecs.BOM_UTF8) else 0
    try:
        text = data[start:].decode("utf-8")
    except UnicodeDecodeError as exc:
        offset = start + exc.start
        return None, (f"{NOT_UTF8} (byte 0x{data[offset]:02x} at offset {offset}, line "
                      f"{line_at(data, offset)})")
    nul = data.find(b"\0")
    if nul >= 0:
        return None, f"not text (a NUL byte on line {line_at(data, nul)})"
    return text, None


def too_large(path, limit):
    return (f"{size_text(os.path.getsize(path))}, more than the {size_text(limit)} such a file "
            "can be")


def size_text(size):
    """A number of bytes for a message: "1001 bytes", "64.0 MiB"."""
    return f"{size / 2**20:.1f} MiB" if size >= 2**20 else f"{size} bytes"


def line_at(data, offset):
    """The line number (from 1) of a byte offset in a file's bytes."""
    return data.count(b"\n", 0, offset) + 1


def json_of(path, limit=TEXT_LIMIT):
    """(data, None) of a JSON file, or (None, what is wrong): see text_of, not JSON, or nested
    too deeply to read."""
    text, problem = text_of(path, limit)
    if problem:
        return None, problem
    try:
        return json.loads(text), None
    except RecursionError:
        return None, "its JSON is nested too deeply"
    except ValueError as exc:
        return None, f"{type(exc).__name__}: {exc}"


def read_text(path, name, limit=TEXT_LIMIT):
    """The text of a user's UTF-8 file (see text_of); what is wrong with it is an
    Action2VecError "NAME: problem", where ``name`` says which file it is (e.g.
    "labels.name_map: mine.csv")."""
    text, problem = text_of(path, limit)
    if problem:
        advice = "; save it as UTF-8" if problem.startswith(NOT_UTF8) else ""
        raise Action2VecError(f"{name}: {problem}{advice}")
    return text


def read_stage_json(path, what, stage, limit=TEXT_LIMIT):
    """(data, bad) of a JSON file that ``stage`` writes: a missing, unreadable or unparsable
    file is an Action2VecError naming it; ``bad(problem)`` builds the error for content that is
    not ``what`` (e.g. "a classes file of the labels stage"), telling the user to rerun the stage.
    A file larger than ``limit`` bytes is refused before it is read."""
    def bad(problem):
        return Action2VecError(f"{path}: not {what} ({problem}); run `dvc repro {stage}` to "
                               "write it again")

    data, problem = json_of(path, limit)
    if problem == NOT_FOUND:
        raise Action2VecError(f"{path}: not found; run `dvc repro {stage}` to write it")
    if problem:
        raise bad(problem)
    return data, bad


def compare(a, b):
    """1, 0 or -1 as ``a`` is larger than, equal to or smaller than ``b``."""
    return (a > b) - (a < b)


def rounded(n):
    """(``n`` bytes as text in kB or MB to one decimal, the number of bytes that text says)."""
    scale, unit = (1e6, "MB") if n >= 1e5 else (1e3, "kB")
    value = round(n / scale, 1)
    return f"{value:.1f} {unit}", value * scale


def space_needed(needed, free):
    """"X needed, Y free" in kB or MB; in bytes where rounding would hide which is larger (0.2 MB
    needed, 0.2 MB free)."""
    (need_text, need_read), (free_text, free_read) = rounded(needed), rounded(free)
    if compare(need_read, free_read) != compare(needed, free):
        need_text, free_text = f"{needed:,} bytes", f"{free:,} bytes"
    return f"{need_text} needed, {free_text} free"


def check_free_space(path, needed, what=None):
    """An Action2VecError before writing ``needed`` bytes at ``path`` (a file or a folder, which
    may not exist yet) when its disk has less free space, so that a long run does not end in a
    half-written file; ``what`` names what would be written there."""
    path = Path(path)
    probe = next((p for p in [path, *path.parents] if p.exists()), Path("."))
    free = shutil.disk_usage(probe).free
    if free < needed:
        raise Action2VecError(f"{path}: not enough disk space{f' for {what}' if what else ''}: "
                              f"{space_needed(needed, free)}; free some space and run again")
