"""Stage sequence: pad with zeros or clip every video to ``sequence.steps`` steps, in video id
order, a block of videos at a time (``iter_blocks``: memory holds a block, not a whole
shard), so that the same PCA features give the same file however the shards split
them."""

import logging

from action2vec import params
from action2vec.files import atomic, check_free_space
from action2vec.paths import PCA_SHARDS, SEQUENCES
from action2vec.shards import read_attrs, shard_paths, summary
from action2vec.sequences import iter_blocks, sequences_bytes, write_sequences
from action2vec.stage import run

log = logging.getLogger("sequence")


def main():
    cfg = params.load("sequence")["sequence"]
    dims = read_attrs(shard_paths(PCA_SHARDS)[0])["pca_dims"]
    SEQUENCES.parent.mkdir(parents=True, exist_ok=True)
    videos = sum(summary(path).videos for path in shard_paths(PCA_SHARDS))
    check_free_space(SEQUENCES.parent, sequences_bytes(videos, cfg["steps"], dims, cfg["dtype"]),
                     f"{SEQUENCES.name} ({videos} videos x {cfg['steps']} steps x {dims})")
    with atomic(SEQUENCES) as tmp:  # a damaged shard met half way leaves no partial file
        count = write_sequences(tmp, iter_blocks(PCA_SHARDS), cfg["steps"], dims, cfg["dtype"])
    log.info("%d videos as %d steps of %d features (%s)", count, cfg["steps"], dims, cfg["dtype"])


if __name__ == "__main__":
    run(main)
