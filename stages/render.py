"""Stage render: the rendered toy dataset as real H.264 videos (params: seed, render)."""

from action2vec import params
from action2vec.paths import VIDEOS
from action2vec.render import render_dataset
from action2vec.stage import run

def main():
    p = params.load("render")
    cfg = p["render"]
    render_dataset(VIDEOS, p["seed"], cfg["videos_per_class"], cfg["frames"], cfg["width"],
                   cfg["height"])


if __name__ == "__main__":
    run(main)
