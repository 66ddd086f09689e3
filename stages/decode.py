"""Stage decode: list the dataset, check every video without decoding it in full (header,
container structure, frame index, end of the stream: action2vec.video.probe), record its facts.

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
from action2vec.video import probe

SHOWN = 20  # rejected videos named one by one in the log; all are in rejected.csv
log = logging.getLogger("decode")


def probe_all(videos, fps, max_seconds, workers):
    check = partial(probe, fps=fps, max_seconds=max_seconds)
    paths = [v["path"] for v in videos]
    bar = partial(progress_bar, total=len(paths), desc="decode", unit="video")
    if workers == 1:
        return list(bar(map(check, paths)))
    with ProcessPoolExecutor(workers) as pool:
        return list(bar(pool.map(check, paths, chunksize=8)))


def table_row(video, info):
    """A video's row of videos.csv: the listing's columns, then probe's facts. A video the
    listing refused (its ``refused`` reason: a path DVC does not see change, a broken link, a
    second name of one file: dataset.refuse) is rejected with that reason, whatever it holds."""
    video = dict(video)
    refused = video.pop("refused", None)
    return {**video, **info, **({"status": "rejected", "reason": refused} if refused else {})}


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
    table = pd.DataFrame([table_row(v, info) for v, info in
                          zip(videos, probe_all(videos, cfg["fps"], cfg["max_seconds"],
                                                cfg["workers"]))])
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
