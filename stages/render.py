"""Stage render: the rendered toy dataset as real H.264 videos (params: seed, render,
dataset.name). With another dataset it renders nothing and leaves data/videos empty."""

import logging
import shutil

from action2vec import params
from action2vec.dataset_names import RENDERED
from action2vec.paths import VIDEOS
from action2vec.render import render_dataset
from action2vec.stage import run

log = logging.getLogger("render")


def main():
    p = params.load("render")
    if p["dataset"]["name"] != RENDERED:
        shutil.rmtree(VIDEOS, ignore_errors=True)  # params forbid dataset.root inside it
        VIDEOS.mkdir(parents=True)
        log.info("dataset.name is %s: nothing to render, %s left empty", p["dataset"]["name"],
                 VIDEOS)
        return
    cfg = p["render"]
    render_dataset(VIDEOS, p["seed"], cfg["videos_per_class"], cfg["frames"], cfg["width"],
                   cfg["height"])


if __name__ == "__main__":
    run(main)
