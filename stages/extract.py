"""Stage extract: clip features of every decodable video into HDF5 shards (params: decode,
features). A video that fails here (a damaged stream that the decode stage's check does not
decode, one that decodes shorter than that stage counted, or a file changed since that stage
checked it) is logged and skipped;
data/features/rejected.csv lists every video left out, by the decode stage or here, and why.

Under `torchrun` the shards to write are dealt out to the processes (shard k to rank k mod
world size); the shards are the same files a single process writes.

The output is kept between runs (``persist`` in dvc.yaml): shards finished by an interrupted or
earlier run with the same extractor, weights and clip settings are kept if they match their
checksums, videos no longer listed are dropped from them, and only the videos not yet extracted
are processed. Each video's features are stored with its file's size and SHA-256 (the decode
stage's ``bytes`` and ``sha256``): a video whose file changed since (replaced, re-encoded, or
another file at the same relative path under another dataset root) is extracted again. Damaged
shards are moved to .resume/damaged/ (outside the DVC output) and their videos extracted again.
"""

import hashlib
import json
import logging

import pandas as pd
import torch

from action2vec import Action2VecError, params
from action2vec.dataset import read_table
from action2vec.distributed import broadcast, finish, gather, setup
from action2vec.extractors import make_extractor
from action2vec.features import extract
from action2vec.files import atomic
from action2vec.paths import DAMAGED, DECODED, FEATURES, LEFT_OUT, REJECTED
from action2vec.shards import ShardWriter, resume
from action2vec.stage import run

log = logging.getLogger("extract")


def feature_key(attrs, seed):
    """A digest of what decides the features' values (not batch size, device or shard size):
    shards with another key are not reused."""
    key = {k: v for k, v in attrs.items() if k != "params"}
    if attrs.get("random_init"):
        key["seed"] = seed  # the seed draws the random weights
    return hashlib.sha256(json.dumps(key, sort_keys=True, default=str).encode()).hexdigest()


LEFT_OUT_COLUMNS = ["id", "path", "class", "stage", "reason"]
FILE_COLUMNS = ["bytes", "sha256"]  # videos.csv's record of each video's file


def check_file_columns(table):
    """The decode stage's table must record each video's file, which its features belong to."""
    missing = [c for c in FILE_COLUMNS if c not in table.columns]
    if missing:
        raise Action2VecError(f"{DECODED}: no column {', '.join(missing)} (each video's file "
                              "size and SHA-256): written by an older decode stage; run `dvc "
                              "repro` to run it again")


def file_of(video):
    """A video's file as its features record it: (size, SHA-256)."""
    return int(video["bytes"]), video["sha256"]


def write_left_out(rejected, failed):
    """The report of every video left out: the decode stage's rejections and this stage's
    failures, each with its stage and reason. Replaced whole (the old one may be a read-only
    link into the DVC cache)."""
    rows = ([{**row, "stage": "decode"} for row in rejected.to_dict("records")] +
            [{**row, "stage": "extract"} for row in failed])
    with atomic(LEFT_OUT) as tmp:
        pd.DataFrame(rows, columns=LEFT_OUT_COLUMNS).to_csv(tmp, index=False)


def main():
    p = params.load("extract")
    cfg, dec = p["features"], p["decode"]
    if cfg["device"] == "cuda" and not torch.cuda.is_available():
        raise Action2VecError("features.device: cuda requested but no GPU is visible")
    rank, world = setup(cfg["device"])
    table, rejected = read_table(DECODED), read_table(REJECTED)
    check_file_columns(table)
    videos = table[table.status == "ok"].to_dict("records")
    extractor = make_extractor(cfg["backbone"], cfg["layer"], cfg["weights"], p["seed"],
                               cfg["device"])
    attrs = {"extractor": extractor.name, "layer": extractor.layer, "dim": extractor.dim,
             "clip_len": extractor.clip_len, "stride": cfg["stride"], "fps": dec["fps"],
             "max_seconds": dec["max_seconds"], "precision": extractor.precision,
             **extractor.weights_info,
             "params": {"decode": dec, "features": cfg, "seed": p["seed"]}}
    attrs["feature_key"] = feature_key(attrs, p["seed"])
    # Rank 0 tidies up what earlier runs left; every rank then takes its share of the shards.
    wanted = {v["id"]: file_of(v) for v in videos}
    done, first = broadcast(resume(FEATURES, attrs["feature_key"], wanted, DAMAGED)
                            if rank == 0 else None)
    todo = [v for v in videos if v["id"] not in done]
    chunks = [todo[i:i + cfg["shard_videos"]] for i in range(0, len(todo), cfg["shard_videos"])]
    if rank == 0:
        log.info("%d videos already extracted, %d to do in %d shards on %d process(es)",
                 len(done), len(todo), len(chunks), world)
    failed, clips = [], 0
    for number in range(rank, len(chunks), world):
        with ShardWriter(FEATURES, attrs, cfg["shard_videos"], first + number) as writer:
            clips += extract(chunks[number], extractor, dec["fps"], dec["max_seconds"],
                             cfg["stride"], cfg["batch_size"],
                             on_video=lambda v, f: writer.add(v["id"], v["class"], f, file_of(v)),
                             on_error=lambda v, msg: failed.append({**v, "reason": msg}),
                             progress=rank == 0, workers=dec["workers"])
    failed = [row for rows in gather(failed) for row in rows]
    clips = sum(gather(clips))
    finish()
    if rank != 0:
        return
    write_left_out(rejected, failed)
    (FEATURES / "failed.csv").unlink(missing_ok=True)  # the report's old name: persist kept it
    log.info("%d clips from %d videos into %d new shards; %d failed", clips,
             len(todo) - len(failed), len(chunks), len(failed))
    log.info("%d videos left out: %d rejected by decode, %d failed in extract; all in %s",
             len(rejected) + len(failed), len(rejected), len(failed), LEFT_OUT)
    if len(failed) == len(videos):
        raise Action2VecError(f"no features: all {len(videos)} videos failed, see "
                              f"{LEFT_OUT}")

if __name__ == "__main__":
    run(main)
