"""Clip features of many videos: each video decoded once, its clips batched with other videos'.

At most ``batch_size`` clips and the frames of the videos they come from are held at a time,
so memory stays bounded whatever the number or length of the videos.
"""

import logging
import time

import numpy as np
from tqdm import tqdm

from action2vec.video import clip_starts, read_frames

log = logging.getLogger(__name__)


def padded(frames, starts, clip_len):
    """Frames extended with copies of the last one so the last clip is whole."""
    short = starts[-1] + clip_len - len(frames)
    if short <= 0:
        return frames
    return np.concatenate([frames, np.repeat(frames[-1:], short, axis=0)])


class Batcher:
    """Queues clips of several videos and reports each video once all its clips are done."""

    def __init__(self, extractor, batch_size, on_video):
        self.extractor = extractor
        self.batch_size = batch_size
        self.on_video = on_video
        self.videos = {}  # slot -> [video, frames, starts, features so far]
        self.queue = []  # (slot, clip index)
        self.clips_done = 0

    def add(self, slot, video, frames, starts):
        self.videos[slot] = [video, frames, starts, []]
        self.queue.extend((slot, i) for i in range(len(starts)))
        while len(self.queue) >= self.batch_size:
            self.run(self.queue[:self.batch_size])
            self.queue = self.queue[self.batch_size:]

    def finish(self):
        if self.queue:
            self.run(self.queue)
            self.queue = []

    def run(self, batch):
        clen = self.extractor.clip_len
        clips = np.stack([self.videos[s][1][self.videos[s][2][i]:self.videos[s][2][i] + clen]
                          for s, i in batch])
        feats = self.extractor.features(clips)
        self.clips_done += len(batch)
        for (slot, _), feat in zip(batch, feats):
            entry = self.videos[slot]
            entry[3].append(feat)
            if len(entry[3]) == len(entry[2]):
                del self.videos[slot]
                self.on_video(entry[0], np.stack(entry[3]))


def extract(videos, extractor, fps, max_seconds, stride, batch_size, on_video, on_error,
            progress=True):
    """Features of every video; ``on_video(video, (n_clips, dim))`` as each completes.

    ``videos`` are dicts with at least ``path``. A video that fails to decode goes to
    ``on_error(video, message)`` and the run goes on. Returns the number of clips.
    """
    batcher = Batcher(extractor, batch_size, on_video)
    start = time.time()
    bar = tqdm(videos, desc="extract", unit="video", disable=not progress)
    for slot, video in enumerate(bar):
        try:
            frames = extractor.prepare(read_frames(video["path"], fps, max_seconds,
                                                   size=extractor.frame_size))
        except Exception as exc:  # noqa: BLE001 - every decoder failure is per video
            message = f"{type(exc).__name__}: {exc}"
            log.error("extract: %s: %s (skipped)", video["path"], message)
            on_error(video, message)
            continue
        starts = clip_starts(len(frames), extractor.clip_len, stride)
        batcher.add(slot, video, padded(frames, starts, extractor.clip_len), starts)
        bar.set_postfix(clips_per_s=f"{batcher.clips_done / (time.time() - start):.2f}")
    batcher.finish()
    return batcher.clips_done
