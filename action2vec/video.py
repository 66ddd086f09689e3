"""Reading videos as the paper does: resampled to a fixed frame rate and clipped to a maximum
duration (section 3.2: 30 fps, 14 s), with a check that they really decode.
"""

import math
import os
import re
from pathlib import Path

import numpy as np

from action2vec.files import NOT_FOUND, file_problem, file_sha256

with_decord = None


def decord():
    """decord, imported on first use and told to keep its own log quiet."""
    global with_decord
    if with_decord is None:
        import decord as module

        module.logging.set_level(module.logging.QUIET)
        with_decord = module
    return with_decord


class BadVideo(ValueError):
    """A video that opens but does not decode as its header says (the message is the reason)."""


def open_reader(path, size=None):
    """A decord VideoReader; ``size`` (height, width) makes the decoder resize frames."""
    kwargs = {"num_threads": 1}
    if size is not None:
        kwargs.update(height=size[0], width=size[1])
    return decord().VideoReader(str(path), **kwargs)


def frame_indices(n_frames, src_fps, fps, max_seconds):
    """Source frame numbers that resample a video to ``fps``, clipped to ``max_seconds``."""
    if n_frames <= 0 or src_fps <= 0:
        return np.zeros(0, dtype=np.int64)
    duration = min(n_frames / src_fps, max_seconds)
    count = max(1, int(math.floor(duration * fps + 1e-6)))
    idx = np.floor(np.arange(count) * src_fps / fps + 1e-6).astype(np.int64)
    return np.minimum(idx, n_frames - 1)


def clip_starts(n_frames, clip_len, stride):
    """Start frames of the clips of a video: every ``stride`` frames, the last one padded.

    14 s at 30 fps (420 frames) with clips of 16 every 8 gives 52 clips, as in the paper.
    """
    count = int(math.ceil(max(n_frames - clip_len, 0) / stride)) + 1
    return np.arange(count) * stride


def read_frames(path, fps, max_seconds, size=None, block=64):
    """Decoded uint8 frames (T, H, W, 3), resampled and clipped; raises on a broken file.

    Frames are fetched in blocks of consecutive indices (one seek each), and a decoder that
    returns fewer frames than asked, as a truncated file can, is an error.
    """
    reader = open_reader(path, size)
    wanted = frame_indices(len(reader), reader.get_avg_fps(), fps, max_seconds)
    if len(wanted) == 0:
        raise BadVideo("no frames")
    parts = []
    for start in range(0, len(wanted), block):
        chunk = wanted[start:start + block]
        frames = reader.get_batch(chunk.tolist()).asnumpy()
        if len(frames) != len(chunk):
            raise BadVideo(f"truncated: decoder returned {len(frames)} of {len(chunk)} frames")
        parts.append(frames)
    return np.concatenate(parts)


def file_identity(path):
    """(size in bytes, SHA-256 hex digest) of a file: the file a video's features belong to. A
    file replaced, re-encoded or found under another root with the same relative path has
    another identity; a copy of the same bytes anywhere has the same."""
    return os.path.getsize(path), file_sha256(path)


def first_line(message, limit=300):
    """A decoder's message on one line (decord's can carry a multi-line native trace)."""
    lines = str(message).strip().splitlines()
    return (lines[0] if lines else "unknown error")[:limit]


NATIVE_PREFIX = re.compile(r"^(\[[\d:]+\] \S+:\d+: )+")  # decord's "[time] file.cc:line: "


def native_message(exc, path):
    """A decord error as one line without its source locations and the file's path."""
    line = NATIVE_PREFIX.sub("", first_line(exc, 200)).replace(f"[{path}]", "")
    return line.replace(str(path), "").strip(" .").lower() or "unknown error"


def cut_short(path):
    """Whether a file is shorter than its own container structure says: an MP4/MOV (``ftyp``
    first) that ends inside one of its top-level boxes, or an AVI shorter than its RIFF size.
    A download or copy that stopped early; an MP4 cut so loses its index (``moov``) too."""
    try:
        with open(path, "rb") as f:
            size = os.fstat(f.fileno()).st_size
            head = f.read(12)
            if head[:4] == b"RIFF":
                return size < 8 + int.from_bytes(head[4:8], "little")
            return head[4:8] == b"ftyp" and mp4_end(f, size) > size
    except OSError:  # unreadable: the caller says why
        return False


def mp4_end(f, size):
    """Where the top-level boxes of an MP4 file say it ends: past ``size`` when it was cut
    inside a box (0 when they turn out not to be boxes)."""
    pos = 0
    while pos < size:
        f.seek(pos)
        box = f.read(16)
        if len(box) < 8:
            return pos + 8  # cut inside a box header
        length = int.from_bytes(box[:4], "big")
        if length == 1:  # a 64-bit size follows the type
            length = int.from_bytes(box[8:16], "big")
        if length == 0:  # the last box runs to the end of the file
            return size
        if length < 8:
            return 0
        pos += length
    return pos


CUT_SHORT = "truncated: the file is shorter than its container says"


def open_error(path):
    """Why a file cannot be opened as a video, or None: one line without the path, a kind and
    perhaps details after ": ", so that equal reasons group."""
    return header(path)[0]


def not_video(container_format):
    """Why a container FFmpeg opened is not a video, or None: FFmpeg reads any text file as
    ANSI art (format tty) and an image as a one-frame stream (image2, png_pipe, ...)."""
    name = container_format.name
    if name == "tty":
        return "not a video: a text file"
    if name == "image2" or name.endswith("_pipe"):
        return f"not a video: an image ({container_format.long_name})"
    return None


def is_mp4(path):
    """Whether a file begins with an MP4/MOV ``ftyp`` box (FFmpeg would pick its mov demuxer)."""
    with open(path, "rb") as f:
        return f.read(8)[4:8] == b"ftyp"


# How FFmpeg opens an MP4 for the probe: as the mov demuxer (no guessing of the format among
# every demuxer), and without decoding frames to learn their pixel format while it reads the
# stream's information: the header holds the streams, frame count and rate, and the probe's end
# check decodes what it checks. The two took about 60% of the opening of a rendered clip.
MP4_OPEN = {"format": "mp4", "options": {"skip_frame": "all"}}


def open_container(path):
    """The PyAV container of a file (av.open), an MP4 as MP4_OPEN says."""
    import av

    return av.open(str(path), **(MP4_OPEN if is_mp4(path) else {}))


def open_video(path):
    """(why the file cannot be opened as a video or None, the open PyAV container or None).
    PyAV's errors are Python exceptions, where decord prints a native log line before it
    raises on such files: decord is handed only files that pass."""
    import av

    path = Path(path)
    problem = file_problem(path)
    if problem:  # a pipe or a device would never end: not opened
        return ("no such file" if problem == NOT_FOUND else problem), None
    if path.stat().st_size == 0:
        return "empty file", None
    try:
        container = open_container(path)
    except av.error.InvalidDataError:
        problem = "not a video container"
    except Exception as exc:  # noqa: BLE001 - every container error is a per-file message
        strerror = getattr(exc, "strerror", None)
        problem = (strerror.lower() if strerror else
                   f"cannot be opened: {type(exc).__name__}: {native_message(exc, path)}")
    else:
        kind = not_video(container.format)
        if kind is None and container.streams.video:
            return None, container
        container.close()
        problem = kind or "no video stream"
    return (CUT_SHORT if cut_short(path) else problem), None


def header(path):
    """(why the file cannot be opened as a video or None, the frame count its header declares,
    0 when none), from one read of the container's header."""
    problem, container = open_video(path)
    if container is None:
        return problem, 0
    with container:
        return None, int(container.streams.video[0].frames)


def decode_failure(path, exc):
    """Why decoding ``path`` failed, worded as a probe's rejection so that equal reasons group:
    a BadVideo's own message, else what the file's header and structure say, else a failure
    mid-stream (the decoder's own message names the file and source lines)."""
    if isinstance(exc, BadVideo):
        return str(exc)
    return open_error(path) or (CUT_SHORT if cut_short(path) else "decoding failed mid-stream")


def check_complete(declared, decodable):
    """A file whose header declares more frames than the decoder finds was cut short: decord
    then returns the shorter video without an error. A frame or two (2%) of slack is allowed."""
    missing = declared - decodable
    if declared > 0 and missing > max(2, 0.02 * declared):
        raise BadVideo(f"truncated: header declares {declared} frames, only {decodable} decode")


END_SHARE = 0.05  # the end check decodes at most this share of a video's frames, or one


def end_packets(tail, n_frames):
    """The packets the end check decodes, of ``tail``, those from the last keyframe to the end
    of the stream: all of them (the last frame decodes) when they are at most ``END_SHARE`` of
    the video's frames, else the keyframe alone."""
    return tail if len(tail) - 1 <= END_SHARE * n_frames else tail[:1]


def scan(container, stream):
    """(the number of the stream's packets, the packets the end check decodes) from one pass
    that reads the packets without decoding them. The count is the frame index decord builds
    the same way when it opens a file: the frames extraction will find. The tail is cut to
    its keyframe as soon as ``end_packets`` would cut it, so that it never holds more than
    one keyframe interval of a long video."""
    count, tail, whole = 0, [], False
    for packet in container.demux(stream):
        if packet.dts is None and not packet.size:  # PyAV's flush packet, after the last
            continue
        count += 1
        if packet.is_keyframe or count == 1:  # a stream may flag no keyframe
            tail, whole = [packet], True
        elif whole:
            tail.append(packet)
            whole = len(end_packets(tail, count)) == len(tail)
            if not whole:
                del tail[1:]
    return count, tail


def end_size(stream, tail):
    """(height, width) of the last frames of the stream, decoded from ``tail`` (``scan``);
    raises when they do not decode. PyAV decodes exactly the packets it is given, where
    decord's reader decodes ahead in a thread."""
    stream.thread_count = 1
    frames = [f for packet in tail for f in stream.decode(packet)] + list(stream.decode(None))
    if not frames:
        raise BadVideo("decoding failed mid-stream: the end of the stream does not decode")
    return frames[-1].height, frames[-1].width


def rejected(reason):
    """probe's answer for a video rejected before any of its facts is known: empty facts."""
    return {"frames": 0, "fps": 0.0, "duration": 0.0, "width": 0, "height": 0,
            "used_frames": 0, "status": "rejected", "reason": reason}


def probe(path, fps, max_seconds):
    """Facts about one video and whether it decodes, without decoding it in full: a dict with
    ``status`` ok or rejected and the ``reason`` of a rejection, worded without the path so that
    equal reasons group.

    Checked, from one opening of the file: the container's header (it opens, has a video
    stream), the frame index (the packets of every frame the header declares are there), its
    structure (not shorter than its boxes or RIFF size say) and the end of the stream (its
    last keyframe, and the frames after it when they are few, decode: ``end_packets``). Damage
    inside the stream that the index does not show is found by the extraction's own decode,
    which reports it the same way.
    """
    info = rejected("")
    problem, container = open_video(path)
    if problem:
        return rejected(problem)
    with container:
        stream = container.streams.video[0]
        try:
            frames, tail = scan(container, stream)
            check_complete(int(stream.frames), frames)
            if cut_short(path):  # every frame is there, yet the file ends early
                raise BadVideo(CUT_SHORT)
            rate = float(stream.average_rate or 0)  # decord's frame rate: the stream's average
            info.update(frames=frames, fps=rate, duration=frames / rate if rate > 0 else 0.0)
            used = len(frame_indices(frames, rate, fps, max_seconds))
            if used == 0:
                raise BadVideo("no frames")
            info["height"], info["width"] = end_size(stream, tail)
            info.update(used_frames=used, status="ok")
        except Exception as exc:  # noqa: BLE001 - PyAV raises its own on damaged data
            info["reason"] = decode_failure(path, exc)
    return info
