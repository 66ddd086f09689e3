"""Stage extract: clip features of every decodable video into HDF5 shards (params: decode,
features). A video that fails here is logged in data/features/failed.csv and skipped."""

import logging
import shutil
from pathlib import Path

import pandas as pd
import torch

from action2vec import Action2VecError, params
from action2vec.extractors import make_extractor
from action2vec.features import extract
from action2vec.shards import ShardWriter
from action2vec.stage import run

VIDEOS = Path("data/decode/videos.csv")
OUT = Path("data/features")
log = logging.getLogger("extract")


def main():
    p = params.load("decode", "features")
    cfg, dec = p["features"], p["decode"]
    if cfg["device"] == "cuda" and not torch.cuda.is_available():
        raise Action2VecError("features.device: cuda requested but no GPU is visible")
    table = pd.read_csv(VIDEOS)
    videos = table[table.status == "ok"].to_dict("records")
    extractor = make_extractor(cfg["backbone"], cfg["layer"], cfg["weights"], p["seed"],
                               cfg["device"])
    attrs = {"extractor": extractor.name, "layer": extractor.layer, "dim": extractor.dim,
             "clip_len": extractor.clip_len, "stride": cfg["stride"], "fps": dec["fps"],
             "max_seconds": dec["max_seconds"], **extractor.weights_info,
             "params": {"decode": dec, "features": cfg, "seed": p["seed"]}}
    shutil.rmtree(OUT, ignore_errors=True)
    failed = []
    with ShardWriter(OUT, attrs, cfg["shard_videos"]) as writer:
        clips = extract(videos, extractor, dec["fps"], dec["max_seconds"], cfg["stride"],
                        cfg["batch_size"],
                        on_video=lambda v, f: writer.add(v["id"], v["class"], f),
                        on_error=lambda v, msg: failed.append({**v, "reason": msg}))
    pd.DataFrame(failed, columns=["id", "path", "class", "reason"]).to_csv(OUT / "failed.csv",
                                                                          index=False)
    log.info("%d clips from %d videos into %d shards; %d failed", clips,
             len(videos) - len(failed), writer.count, len(failed))
    if len(failed) == len(videos):
        raise Action2VecError(f"no features: all {len(videos)} videos failed, see "
                              f"{OUT / 'failed.csv'}")


if __name__ == "__main__":
    run(main)
