import hashlib

import pytest

from action2vec.files import atomic, file_sha256


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
