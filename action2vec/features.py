"""Clip features of many videos: each video decoded once, its clips batched with other videos'.

Decoding runs in threads ahead of the network (decord and torch both release the GIL), so the
two overlap; at most ``workers + 1`` decoded videos wait, plus the clips of one batch, so memory
stays bounded whatever the number or length of the videos. Videos are consumed in list order,
so the output does not depend on which decode finishes first.
"""

import contextlib
import logging
import time
from collections import deque
from concurrent.futures import ThreadPoolExecutor
from itertools import islice

import numpy as np

from action2vec.progress import bar as progress_bar
from action2vec.video import BadVideo, clip_starts, decode_failure, file_identity, read_frames

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


def check_length(frames, video):
    """A video must decode to the frames the decode stage counted (``used_frames``, when the
    video has it): fewer means the file was cut or damaged since, and is never used shortened."""
    expected = video.get("used_frames")
    if expected is None or len(frames) == expected:
        return
    kind = "truncated" if len(frames) < expected else "changed"
    raise BadVideo(f"{kind}: {len(frames)} frames decode, the decode stage counted "
                   f"{int(expected)}")


def check_file(video):
    """A video must be the file the decode stage checked (its ``bytes`` and ``sha256``, when the
    video has them): its features are recorded as that file's, and a file replaced since would
    have them reused under another file's name. Hashed before decoding (the decode then reads
    the file from the page cache), so that a replaced file is reported as changed."""
    expected = video.get("sha256")
    if not expected:
        return
    size, sha = file_identity(video["path"])
    if size != int(video["bytes"]):
        raise BadVideo(f"changed: {size} bytes, the decode stage checked {int(video['bytes'])}")
    if sha != expected:
        raise BadVideo("changed: other bytes than the decode stage checked (another SHA-256)")


def decoded(videos, extractor, fps, max_seconds, workers):
    """(video, prepared frames, None) or (video, None, exception) for each video, in order,
    decoded by ``workers`` threads running ahead. A decoder failure comes as a BadVideo whose
    message is the reason, worded as the decode stage's rejections. Closing the generator (as
    ``extract`` does on an error) cancels the decodes not yet started and waits for the running
    ones, so no thread outlives the run."""
    def load(video):
        try:
            check_file(video)  # first: a replaced file is "changed", whatever it decodes to
            frames = read_frames(video["path"], fps, max_seconds, size=extractor.frame_size)
            check_length(frames, video)
        except Exception as exc:  # noqa: BLE001 - every decoder failure is per video
            return None, BadVideo(decode_failure(video["path"], exc))
        try:
            return extractor.prepare(frames), None
        except Exception as exc:  # noqa: BLE001 - so is a failure to prepare its frames
            return None, exc

    videos = iter(videos)
    pool = ThreadPoolExecutor(workers)
    try:
        pending = deque((v, pool.submit(load, v)) for v in islice(videos, workers + 1))
        while pending:
            video, future = pending.popleft()
            following = next(videos, None)
            if following is not None:
                pending.append((following, pool.submit(load, following)))
            yield (video, *future.result())
    finally:
        pool.shutdown(wait=True, cancel_futures=True)


def extract(videos, extractor, fps, max_seconds, stride, batch_size, on_video, on_error,
            progress=True, workers=1):
    """Features of every video; ``on_video(video, (n_clips, dim))`` as each completes.

    ``videos`` are dicts with at least ``path``, and ``used_frames``, ``bytes`` and ``sha256`` to
    check the decode and the file against. A video that fails to decode, decodes to other than
    ``used_frames`` frames or is another file than ``bytes`` and ``sha256`` say goes to
    ``on_error(video, reason)`` and the run goes on. ``workers`` threads decode ahead of the
    network. Returns the number of clips.
    """
    bar = progress_bar(total=len(videos), desc="extract", unit="video", disable=not progress)
    start = time.time()

    def done(video, features):  # the bar counts videos whose features are complete
        on_video(video, features)
        bar.update(1)
        bar.set_postfix(clips_per_s=f"{batcher.clips_done / (time.time() - start):.2f}")

    batcher = Batcher(extractor, batch_size, done)
    # On an error (a full disk, say) the decode threads are stopped and the bar is closed before
    # the error goes up, so that it is the last thing printed.
    with bar, contextlib.closing(decoded(videos, extractor, fps, max_seconds, workers)) as decodes:
        for slot, (video, frames, exc) in enumerate(decodes):
            if exc is not None:
                message = (str(exc) if isinstance(exc, BadVideo) else
                           f"{type(exc).__name__}: {exc}")
                log.error("extract: %s: %s (skipped)", video["path"], message)
                on_error(video, message)
                bar.update(1)
                continue
            starts = clip_starts(len(frames), extractor.clip_len, stride)
            batcher.add(slot, video, padded(frames, starts, extractor.clip_len), starts)
        batcher.finish()
    return batcher.clips_done
