import hashlib
import os
import shutil
import time

import pytest

from action2vec import Action2VecError
from action2vec.files import (TEXT_LIMIT, atomic, check_free_space, file_sha256, json_of,
                              read_stage_json, read_text, space_needed)


def test_atomic_replaces_the_file_only_when_the_write_completes(tmp_path):
    path = tmp_path / "out.csv"
    path.write_text("old")
    with pytest.raises(RuntimeError):
        with atomic(path) as tmp:
            tmp.write_text("half")
            raise RuntimeError("interrupted")
    assert path.read_text() == "old" and [p.name for p in tmp_path.iterdir()] == ["out.csv"]
    with atomic(path) as tmp:
        tmp.write_text("new")
        assert path.read_text() == "old"  # nothing seen before the write completes
    assert path.read_text() == "new" and [p.name for p in tmp_path.iterdir()] == ["out.csv"]


def test_atomic_names_the_temporary_file_beside_it_not_like_it(tmp_path):
    """The temporary name ends in .tmp, so a leftover is never read as a file of its kind."""
    with atomic(tmp_path / "v.mp4") as tmp:
        assert tmp.parent == tmp_path and tmp.name.endswith(".tmp")
        tmp.write_bytes(b"")


def test_file_sha256_reads_every_block(tmp_path):
    data = bytes(range(256)) * 5000  # more than one 1 MiB block
    (tmp_path / "f").write_bytes(data)
    assert file_sha256(tmp_path / "f") == hashlib.sha256(data).hexdigest()


def problem_of(path, limit=1000):
    with pytest.raises(Action2VecError) as caught:
        read_text(path, f"mine {path}", limit)
    message = str(caught.value)
    assert message.startswith(f"mine {path}: ") and "\n" not in message
    return message[len(f"mine {path}: "):]


def test_read_text_says_which_file_is_wrong_and_how(tmp_path):
    """One reader for every user's text file: bad encoding, a file that is no regular file, or
    one too large is one line naming the file, never a UnicodeDecodeError or a read that never
    ends."""
    latin = tmp_path / "mine.csv"
    latin.write_bytes("name,words\nCaféRun,run\n".encode("latin-1"))
    assert problem_of(latin) == ("not UTF-8 text (byte 0xe9 at offset 14, line 2); save it as "
                                 "UTF-8")
    (tmp_path / "nul.txt").write_bytes(b"a\nb\x00c\n")
    assert problem_of(tmp_path / "nul.txt") == "not text (a NUL byte on line 2)"
    os.mkfifo(tmp_path / "pipe")
    assert problem_of(tmp_path / "pipe") == "not a regular file but a named pipe (FIFO)"
    assert problem_of("/dev/zero") == "not a regular file but a character device"
    assert problem_of(tmp_path) == "not a regular file but a folder"
    assert problem_of(tmp_path / "gone.csv") == "not found"
    (tmp_path / "big.txt").write_bytes(b"x" * 1001)
    assert problem_of(tmp_path / "big.txt") == "1001 bytes, more than the 1000 bytes such a file " \
                                                "can be"
    (tmp_path / "bom.csv").write_bytes("\ufeffname,words\nCaféRun,run\n".encode())
    assert read_text(tmp_path / "bom.csv", "x") == "name,words\nCaféRun,run\n"  # Excel's UTF-8


def test_a_stage_json_nested_too_deeply_or_too_large_is_refused_fast(tmp_path):
    """A JSON file nested 100,000 deep (a RecursionError) or larger than its limit (a sparse
    file: refused before it is read) is one line naming it."""
    deep = tmp_path / "deep.json"
    deep.write_text("[" * 100_000 + "]" * 100_000)
    with pytest.raises(Action2VecError, match=f"^{deep}: not a thing of x \\(its JSON is nested "
                                              "too deeply\\); run `dvc repro x`"):
        read_stage_json(deep, "a thing of x", "x")
    huge = tmp_path / "huge.json"
    with open(huge, "wb") as f:
        f.truncate(TEXT_LIMIT + 1)
    start = time.monotonic()
    with pytest.raises(Action2VecError, match=f"^{huge}: not a thing of x \\(64.0 MiB, more "
                                              "than the 64.0 MiB such a file can be\\)"):
        read_stage_json(huge, "a thing of x", "x")
    assert time.monotonic() - start < 0.5
    data, _ = json_of(tmp_path / "gone.json")
    assert data is None


def test_space_figures_show_which_is_larger():
    assert space_needed(25_300, 5_100) == "25.3 kB needed, 5.1 kB free"
    assert space_needed(2_500_000, 80_000) == "2.5 MB needed, 80.0 kB free"
    assert space_needed(201_345, 198_000) == "201,345 bytes needed, 198,000 bytes free"
    assert space_needed(100_020, 99_990) == "100,020 bytes needed, 99,990 bytes free"
    assert space_needed(200_000, 200_000) == "0.2 MB needed, 0.2 MB free"


def test_too_little_disk_names_the_folder_and_both_sizes(small_disk):
    free = shutil.disk_usage(small_disk).free  # a disk of its own: nothing else writes there
    with pytest.raises(Action2VecError) as err:
        check_free_space(small_disk / "not yet", free + 1, "the sequences")
    assert str(err.value) == (f"{small_disk / 'not yet'}: not enough disk space for the "
                              f"sequences: {free + 1:,} bytes needed, {free:,} bytes free; free "
                              "some space and run again")  # rounded, both would read the same
    check_free_space(small_disk, free - 1, "a smaller file")  # room: no error
