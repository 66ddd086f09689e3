"""HDF5 feature shards: bounded files of per-video feature arrays, each readable on its own.

A shard holds ``features`` (all clips of its videos, stacked), ``offsets`` (video i owns rows
offsets[i]:offsets[i+1]), ``video_id`` and ``label``, and its attributes say how the features were
made (extractor, layer, weights checksum, params). The extract stage's shards also hold the file
each video's features came from: ``video_bytes`` and ``video_sha256``, its size and the SHA-256
of its bytes. The ``content_sha256`` attribute is a checksum of the datasets, checked whenever a
whole shard is read; the chunks of ``features`` and
``offsets`` also carry HDF5's fletcher32 checksum, so that partial reads are checked too. A damaged
shard is an error that names it, never silently wrong data.

A shard is built in memory and written under a temporary name, renamed when complete, so a file
named ``shard-*.h5`` is never partial, and a full disk is one clear error. That makes extraction
resumable: after an interruption the finished shards are kept and only the rest is redone.

Everything downstream reads the videos in video id order (``video_index``, ``iter_videos``), so
results do not depend on which shard a video landed in. The layout is read here alone: other
modules call these functions.
"""

import contextlib
import hashlib
import io
import json
import logging
import os
import shutil
import stat
from itertools import groupby
from pathlib import Path
from typing import NamedTuple

import h5py
import numpy as np

from action2vec import Action2VecError
from action2vec.files import atomic, check_free_space, space_needed

PATTERN = "shard-*.h5"
DATASETS = ("features", "offsets", "video_id", "label")
FILE_DATASETS = ("video_bytes", "video_sha256")  # each video's file: (size, SHA-256)
STRING = h5py.string_dtype()
CHECKSUM = "content_sha256"
CHUNK_BYTES = 1 << 18  # feature chunks of whole rows, about 256 kB
H5_ERRORS = (OSError, KeyError, ValueError, RuntimeError)  # what h5py raises on a damaged file
log = logging.getLogger(__name__)


CACHE_FIX = "docs/operations.md#the-cache"  # how to repair a damaged shard linked to the cache


def linked(path):
    """Whether a file is a link (a hard link or a symlink): with DVC's cache.type hardlink or
    symlink, a shard is its cache object, and damage to one is damage to the other."""
    try:
        info = os.lstat(path)
    except OSError:
        return False
    return stat.S_ISLNK(info.st_mode) or info.st_nlink > 1


def cache_fix(path):
    """What to do about a damaged shard linked to its DVC cache object: `dvc repro` alone would
    link the damaged object back."""
    return (f"it is linked to its DVC cache object, damaged too: delete that object (find -L "
            f"\"$(dvc cache dir)\" -samefile {path} -delete) and run `dvc repro`, see "
            f"{CACHE_FIX}")


class DamagedShard(Action2VecError):
    """A shard that cannot be read, or whose content does not match its checksum. Where the
    shard is a link into the DVC cache (``linked``), the message says how to repair that."""

    def __init__(self, path, reason):
        self.path, self.reason, self.linked = Path(path), reason, linked(path)
        fix = cache_fix(path) if self.linked else "run `dvc repro` to redo it"
        super().__init__(f"{path}: damaged shard ({reason}); {fix}")


class UncheckedShard(DamagedShard):
    """A shard without a checksum (written by an older version): it cannot be verified."""

    def __init__(self, path):
        super().__init__(path, f"no {CHECKSUM}: written by an older version, cannot be verified")


def content_sha256(blocks, offsets, ids, labels, files=None):
    """Checksum of a shard's content: its feature rows (an iterable of blocks, in order), offsets,
    ids, labels and, where it has them, its videos' files ((size, SHA-256) each)."""
    digest = hashlib.sha256()
    for block in blocks:
        digest.update(np.ascontiguousarray(block, "<f4").data)
    digest.update(np.ascontiguousarray(offsets, "<i8").data)
    digest.update(json.dumps([list(ids), list(labels)]).encode())
    if files is not None:
        digest.update(json.dumps([[int(size), str(sha)] for size, sha in files]).encode())
    return digest.hexdigest()


def shard_bytes(video_ids, labels, arrays, attrs, files=None):
    """A complete shard file as bytes, with its checksum; ``files``: each video's (size,
    SHA-256), or None."""
    features = np.concatenate(arrays).astype(np.float32)
    offsets = np.concatenate([[0], np.cumsum([len(a) for a in arrays])]).astype(np.int64)
    rows = max(1, min(len(features), CHUNK_BYTES // (4 * features.shape[1])))
    buffer = io.BytesIO()
    with h5py.File(buffer, "w") as f:
        f.create_dataset("features", data=features, chunks=(rows, features.shape[1]),
                         compression="lzf", fletcher32=True)
        f.create_dataset("offsets", data=offsets, chunks=True, fletcher32=True)
        f.create_dataset("video_id", data=np.asarray(video_ids, dtype=object), dtype=STRING)
        f.create_dataset("label", data=np.asarray(labels, dtype=object), dtype=STRING)
        if files is not None:
            f.create_dataset("video_bytes", data=np.asarray([s for s, _ in files], np.int64))
            f.create_dataset("video_sha256", data=np.asarray([h for _, h in files], dtype=object),
                             dtype=STRING)
        for key, value in attrs.items():
            plain = isinstance(value, (str, int, float, bool))
            f.attrs[key] = value if plain else json.dumps(value)
        f.attrs[CHECKSUM] = content_sha256([features], offsets, video_ids, labels, files)
    return buffer.getvalue()


def write_shard(path, video_ids, labels, arrays, attrs, files=None):
    """Write one complete shard atomically; ``files``: each video's (size, SHA-256), or None. Too
    little free space for it, or a failed write, is an Action2VecError naming the file and the
    space needed; no partial file is left."""
    path = Path(path)
    data = shard_bytes(video_ids, labels, arrays, attrs, files)
    check_free_space(path, len(data))
    try:
        with atomic(path) as tmp:
            tmp.write_bytes(data)
    except OSError as exc:
        space = space_needed(len(data), shutil.disk_usage(path.parent).free)
        raise Action2VecError(f"{path}: cannot write ({exc.strerror or exc}): {space}; free "
                              "some space and run again") from None


class ShardWriter:
    """Collects per-video arrays and writes a shard every ``max_videos`` videos. Each video may
    come with its file's (size, SHA-256): all of a writer's videos, or none."""

    def __init__(self, out_dir, attrs, max_videos, first=0):
        self.out_dir = Path(out_dir)
        self.out_dir.mkdir(parents=True, exist_ok=True)
        self.attrs = {k: v for k, v in attrs.items() if k != CHECKSUM}
        self.max_videos = max_videos
        self.first = first  # number of the first shard written (after those kept by resume)
        self.count = 0
        self.pending = ([], [], [], [])

    def add(self, video_id, label, array, file=None):
        for column, value in zip(self.pending, (video_id, label, array, file)):
            column.append(value)
        if len(self.pending[0]) >= self.max_videos:
            self.flush()

    def flush(self):
        if self.pending[0]:
            name = f"shard-{self.first + self.count:05d}.h5"
            ids, labels, arrays, files = self.pending
            files = None if all(file is None for file in files) else files
            write_shard(self.out_dir / name, ids, labels, arrays, self.attrs, files)
            self.count += 1
            self.pending = ([], [], [], [])

    def __enter__(self):
        return self

    def __exit__(self, kind, *exc):
        # Done, or interrupted (Ctrl-C): the videos collected are complete, keep them. After an
        # error (a full disk, say) nothing more is written.
        if kind is None or issubclass(kind, KeyboardInterrupt):
            self.flush()


def shard_paths(directory):
    """Complete shards of a directory, in order; an empty directory is an error."""
    paths = sorted(Path(directory).glob(PATTERN))
    if not paths:
        raise Action2VecError(f"{directory}: no feature shards ({PATTERN})")
    return paths


@contextlib.contextmanager
def opened(path):
    """A shard open for reading; h5py's errors about a damaged file, raised on opening or while
    reading in the ``with`` block, become a DamagedShard naming it."""
    try:
        with h5py.File(path, "r") as f:
            yield f
    except H5_ERRORS as exc:
        reason = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise DamagedShard(path, reason) from None


def read_attrs(path):
    """A shard's metadata as plain Python values (its checksum left out)."""
    with opened(path) as f:
        return {k: decode_attr(v) for k, v in f.attrs.items() if k != CHECKSUM}


def is_shard(path):
    """Whether an HDF5 file has the shard layout, whatever its name. h5py's errors on a file
    that is not HDF5 are left to the caller."""
    with h5py.File(path, "r") as f:
        return set(DATASETS) <= set(f)


class Summary(NamedTuple):
    """What a shard holds, read without its features."""
    videos: int
    clips: int
    dim: int
    labels: list  # one per video


def summary(path):
    """The Summary of one shard."""
    with opened(path) as f:
        clips, dim = f["features"].shape
        return Summary(len(f["video_id"]), clips, dim, list(f["label"].asstr()[:]))


def decode_attr(value):
    if isinstance(value, str) and value.startswith(("[", "{")):
        return json.loads(value)
    return value.item() if hasattr(value, "item") else value


class Content(NamedTuple):
    """All of one shard: ``files`` is each video's (size, SHA-256) of its file, or None for a
    shard that does not record them."""
    ids: list
    labels: list
    arrays: list
    attrs: dict
    files: list


def read_files(f):
    """The (size, SHA-256) of each video's file of an open shard, or None where it has none."""
    if not set(FILE_DATASETS) <= set(f):
        return None
    return list(zip(map(int, f["video_bytes"][:]), f["video_sha256"].asstr()[:]))


def read_content(path):
    """The Content of one shard, checked against its checksum: a damaged shard, or one without a
    checksum, is a DamagedShard."""
    with opened(path) as f:
        features, offsets = f["features"][:], f["offsets"][:]
        ids, labels = list(f["video_id"].asstr()[:]), list(f["label"].asstr()[:])
        files = read_files(f)
        attrs = {k: decode_attr(v) for k, v in f.attrs.items()}
    if CHECKSUM not in attrs:
        raise UncheckedShard(path)
    if attrs.pop(CHECKSUM) != content_sha256([features], offsets, ids, labels, files):
        raise DamagedShard(path, "content does not match its checksum")
    check_offsets(path, offsets, len(features), len(ids))
    if files is not None and len(files) != len(ids):
        raise DamagedShard(path, f"{len(files)} video files recorded for {len(ids)} videos")
    arrays = [features[offsets[i]:offsets[i + 1]] for i in range(len(ids))]
    return Content(ids, labels, arrays, attrs, files)


def read_shard(path):
    """(video ids, labels, per-video arrays, attrs) of one shard, checked against its checksum
    (``read_content``)."""
    return read_content(path)[:4]


def check_offsets(path, offsets, rows, videos):
    if (len(offsets) != videos + 1 or offsets[0] != 0 or offsets[-1] != rows
            or np.any(np.diff(offsets) < 0)):
        raise DamagedShard(path, f"offsets do not match {rows} feature rows of {videos} videos")


class Video(NamedTuple):
    """Where a video's clip features are: rows start:stop of a shard's ``features``."""
    path: Path
    label: str
    start: int
    stop: int


def video_index(directory):
    """{video id: Video} for every video of a directory's shards, sorted by video id, read
    without the features. A video found in two shards is an error."""
    index = {}
    for path in shard_paths(directory):
        with opened(path) as f:
            rows, offsets = f["features"].shape[0], f["offsets"][:]
            ids, labels = list(f["video_id"].asstr()[:]), list(f["label"].asstr()[:])
        check_offsets(path, offsets, rows, len(ids))
        for i, (video, label) in enumerate(zip(ids, labels)):
            if video in index:
                raise Action2VecError(f"{path}: video {video!r} is also in {index[video].path}; "
                                      f"delete one of the two shards and run `dvc repro`")
            index[video] = Video(path, label, int(offsets[i]), int(offsets[i + 1]))
    return dict(sorted(index.items()))


def iter_videos(directory):
    """(video_id, label, features) for every video of a directory's shards, in video id order.

    Every shard is checked against its checksum when first met. Videos of a shard that come
    one after the other in id order are read together, so a shard whose videos are all
    consecutive (the usual case) is read once, and memory holds one shard at most.
    """
    checked = set()
    for path, run in groupby(video_index(directory).items(), key=lambda item: item[1].path):
        run = list(run)
        if path not in checked:
            ids, labels, arrays, _ = read_shard(path)
            checked.add(path)
            if len(run) == len(ids):
                features = dict(zip(ids, arrays))
                yield from ((video, where.label, features[video]) for video, where in run)
                continue
            del arrays
        with opened(path) as f:
            arrays = [f["features"][where.start:where.stop] for _, where in run]
        yield from ((video, where.label, a) for (video, where), a in zip(run, arrays))


def read_rows(videos, positions):
    """Rows at ``positions`` (sorted, unique) of the clips of ``videos`` (Video entries) laid
    end to end, in that order; each shard is opened once and only those rows are read (their
    chunks checked by fletcher32)."""
    lengths = [v.stop - v.start for v in videos]
    starts = np.concatenate([[0], np.cumsum(lengths)]).astype(np.int64)
    which = np.searchsorted(starts, positions, side="right") - 1
    rows = np.array([videos[w].start for w in which], dtype=np.int64) + positions - starts[which]
    paths = np.array([str(videos[w].path) for w in which])
    out = None
    for path in dict.fromkeys(paths):
        where = np.flatnonzero(paths == path)
        order = np.argsort(rows[where])
        with opened(path) as f:
            block = f["features"][rows[where][order]]
        if out is None:
            out = np.empty((len(positions), block.shape[1]), np.float32)
        out[where[order]] = block
    return out


def set_aside(path, directory):
    """Move a damaged shard into ``directory`` (out of the DVC output), under a name not yet
    taken there; returns where it went."""
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    target, n = directory / Path(path).name, 1
    while target.exists():
        target, n = directory / f"{Path(path).name}.{n}", n + 1
    shutil.move(path, target)
    return target


def shard_number(path):
    return int(Path(path).stem.split("-")[1])


def resume(out_dir, key, wanted, damaged_dir):
    """Keep what an earlier run of the same extraction finished; return (ids done, next number).

    ``wanted`` is {video id: (size, SHA-256) of its file}. A shard is kept when its
    ``feature_key`` attribute equals ``key`` (same extractor, weights and clip settings) and its
    content matches its checksum, with the videos no longer in ``wanted`` removed from it, and
    those whose file changed since (another size or content: replaced, re-encoded, or another
    file under the same path of another dataset root), or whose shard does not record it
    (written by an older version). Leftover temporary files, shards of other settings and
    shards without a checksum are deleted; damaged shards are moved to ``damaged_dir``. The
    videos of all of these are extracted again, and the log counts them. Files are replaced,
    moved or deleted, never modified in place (they may be read-only links into the DVC cache).
    """
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    for partial in out_dir.glob("*.tmp"):
        partial.unlink()
    done, following, changed, unrecorded = set(), 0, 0, 0
    for path in sorted(out_dir.glob(PATTERN)):
        try:
            if read_attrs(path).get("feature_key") != key:
                path.unlink()
                continue
            content = read_content(path)
        except UncheckedShard:
            log.warning("%s has no checksum (written by an older version): deleted, its videos "
                        "are extracted again", path)
            path.unlink()
            continue
        except DamagedShard as exc:
            moved = set_aside(path, damaged_dir)
            log.warning("%s is damaged (%s): moved to %s, its videos are extracted again%s", path,
                        exc.reason, moved, f"; {cache_fix(moved)}" if exc.linked else "")
            continue
        listed = [i for i, video in enumerate(content.ids) if video in wanted and video not in done]
        if content.files is None:  # an older version's shard: its files are not known
            keep = []
            unrecorded += len(listed)
        else:
            keep = [i for i in listed if content.files[i] == wanted[content.ids[i]]]
            changed += len(listed) - len(keep)
        rewrite(path, content, keep)
        if keep:
            done.update(content.ids[i] for i in keep)
            following = max(following, shard_number(path) + 1)
    if changed:
        log.warning("%d videos are extracted again: their file changed since they were extracted "
                    "(another size or content)", changed)
    if unrecorded:
        log.warning("%d videos are extracted again: their shards were written by an older "
                    "version, which did not record each video's file", unrecorded)
    return done, following


def rewrite(path, content, keep):
    """A shard with only its videos at positions ``keep``: left as it is when that is all of
    them, deleted when none."""
    if not keep:
        path.unlink()
    elif len(keep) < len(content.ids):
        files = content.files and [content.files[i] for i in keep]
        write_shard(path, *([column[i] for i in keep] for column in content[:3]), content.attrs,
                    files)
