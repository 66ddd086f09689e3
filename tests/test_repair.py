"""Damage to a pipeline output is repaired by `dvc repro` alone: a damaged feature shard is
extracted again, byte for byte, and the DVC cache never takes the damage (the project's cache
type copies outputs; a hardlinked cache object would be damaged with its workspace file, and DVC
would link it back over the repaired one)."""

import hashlib
import json

import yaml

from conftest import damage_shard
from project import sh


def md5(path):
    return hashlib.md5(path.read_bytes()).hexdigest()


def shards(repo):
    """{name: (md5, mtime)} of the feature shards in the workspace."""
    return {p.name: (md5(p), p.stat().st_mtime_ns)
            for p in sorted((repo / "data/features").glob("shard-*.h5"))}


def locked_features(repo):
    """{relpath: md5} of data/features as dvc.lock records it (through its .dir cache object)."""
    outs = yaml.safe_load((repo / "dvc.lock").read_text())["stages"]["extract"]["outs"]
    oid = next(out["md5"] for out in outs if out["path"] == "data/features")
    listing = repo / ".dvc/cache/files/md5" / oid[:2] / oid[2:]
    return {entry["relpath"]: entry["md5"] for entry in json.loads(listing.read_text())}


def damaged_cache_objects(repo):
    """Cache objects whose content no longer has the md5 they are named by."""
    objects = (repo / ".dvc/cache/files/md5").glob("*/*")
    return [p for p in objects if md5(p) != p.parent.name + p.name.removesuffix(".dir")]


def test_repro_repairs_damaged_shards_byte_for_byte(project_copy):
    """The tiny project's 24 videos are in 12 shards of 2."""
    repo = project_copy
    before, locked = shards(repo), locked_features(repo)
    assert len(before) == 12 and set(locked.values()) >= {m for m, _ in before.values()}
    truncated, zeroed = repo / "data/features/shard-00001.h5", repo / "data/features/shard-00003.h5"
    damage_shard(truncated, "truncated")  # truncate -s 2/3 of its size
    damage_shard(zeroed, "dd")            # dd if=/dev/zero ... conv=notrunc, inside its features
    for path in (truncated, zeroed):
        assert md5(path) != before[path.name][0]

    repro = sh(repo, "dvc", "repro", "pca")  # extract's output changed: it runs again
    assert "Running stage 'extract'" in repro.stdout

    after = shards(repo)
    # the other shards were kept untouched: only the damaged shards' videos were extracted again
    kept = {name: before[name] for name in before if name not in (truncated.name, zeroed.name)}
    assert {name: after.get(name) for name in kept} == kept
    # and the repaired shards are the originals, byte for byte (under whichever names)
    assert sorted(m for m, _ in after.values()) == sorted(m for m, _ in before.values())
    assert sorted(locked_features(repo).values()) == sorted(locked.values())
    assert json.loads(sh(repo, "dvc", "status", "--with-deps", "pca", "--json").stdout) == {}
    assert damaged_cache_objects(repo) == []
