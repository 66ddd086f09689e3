"""Stage decode: list the dataset, check every video it does not refuse without decoding it in
full (header, container structure, frame index, end of the stream: action2vec.video.probe),
record its facts and, for a video that passes, its file's size and SHA-256 (what its features
are tied to).

Writes data/decode/videos.csv (every video, with status, and a list dataset's split column where
it has one) and data/decode/rejected.csv (the unreadable ones with the reason). Frames are not
stored; the extract stage decodes each video once and reports what fails there.
"""

import logging
from concurrent.futures import ProcessPoolExecutor
from functools import partial

import pandas as pd

from action2vec import Action2VecError, params
from action2vec.dataset import list_videos
from action2vec.paths import DECODE, DECODED, REJECTED
from action2vec.progress import bar as progress_bar
from action2vec.stage import run
from action2vec.video import file_identity, probe
from action2vec.video import rejected as empty_facts

SHOWN = 20  # rejected videos named one by one in the log; all are in rejected.csv
log = logging.getLogger("decode")


def with_identity(info, size=0, sha256=""):
    """probe's facts with the file's ``bytes`` and ``sha256`` before its status and reason: a
    row of videos.csv, its columns in their order."""
    facts = {k: v for k, v in info.items() if k not in ("status", "reason")}
    return {**facts, "bytes": size, "sha256": sha256, "status": info["status"],
            "reason": info["reason"]}


def check(path, fps, max_seconds):
    """probe, then for a video that passes its file's size and SHA-256 (the file extraction
    ties its features to), read while the file is fresh in the page cache."""
    info = probe(path, fps, max_seconds)
    if info["status"] != "ok":
        return with_identity(info)
    return with_identity(info, *file_identity(path))


def probe_all(videos, fps, max_seconds, workers):
    run_check = partial(check, fps=fps, max_seconds=max_seconds)
    paths = [v["path"] for v in videos]
    bar = partial(progress_bar, total=len(paths), desc="decode", unit="video")
    if workers == 1:
        return list(bar(map(run_check, paths)))
    with ProcessPoolExecutor(workers) as pool:
        return list(bar(pool.map(run_check, paths, chunksize=8)))


def table_row(video, info):
    """A video's row of videos.csv: the listing's columns, then its facts: ``info``, probe's,
    or None for a video the listing refused (its ``refused`` reason: a path DVC does not see
    change, a broken link, a second name of one file: dataset.refuse), which is rejected with
    that reason and empty facts, its file never read."""
    video = dict(video)
    refused = video.pop("refused", None)
    return {**video, **(with_identity(empty_facts(refused)) if refused else info)}


def table_rows(videos, cfg):
    """videos.csv's rows, in the listing's order: only the videos the listing did not refuse
    are probed, so no file is read twice and none outside the root is read."""
    readable = [v for v in videos if "refused" not in v]
    facts = iter(probe_all(readable, cfg["fps"], cfg["max_seconds"], cfg["workers"]))
    return [table_row(v, None if "refused" in v else next(facts)) for v in videos]


def reason_kinds(reasons):
    """Rejections counted by kind, most frequent first: a reason is a kind, or a kind and
    details after ": " ("truncated: header declares 60 frames, only 44 decode")."""
    return reasons.str.split(": ", n=1).str[0].value_counts()


def lost_classes(table):
    """{class: number of videos} of the classes none of whose videos decode."""
    kept = set(table[table.status == "ok"]["class"])
    return {name: int(n) for name, n in sorted(table["class"].value_counts().items())
            if name not in kept}


def main():
    p = params.load("decode")
    cfg = p["decode"]
    videos = list_videos(p["dataset"]["name"], p["dataset"]["root"], p["dataset"]["list"])
    table = pd.DataFrame(table_rows(videos, cfg))
    DECODE.mkdir(parents=True, exist_ok=True)
    table.to_csv(DECODED, index=False)
    rejected = table[table.status != "ok"][["id", "path", "class", "reason"]]
    rejected.to_csv(REJECTED, index=False)
    for row in rejected.head(SHOWN).itertuples():
        log.warning("rejected %s: %s", row.path, row.reason)
    if len(rejected) > SHOWN:
        log.warning("... and %d more, all in %s", len(rejected) - SHOWN, REJECTED)
    for kind, count in reason_kinds(rejected.reason).head(SHOWN).items():
        log.warning("%d rejected: %s", count, kind)
    ok = len(table) - len(rejected)
    log.info("%d of %d videos decode, %d classes", ok, len(table),
             table[table.status == "ok"]["class"].nunique())
    if ok == 0:
        raise Action2VecError(f"none of the {len(table)} videos under {p['dataset']['root']} "
                              f"could be decoded; reasons are in {REJECTED}")
    for name, count in lost_classes(table).items():
        log.warning("class %s: all %d videos rejected; it is left out", name, count)


if __name__ == "__main__":
    run(main)
