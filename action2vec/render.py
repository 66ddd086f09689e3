"""Render the toy action dataset: simple animated scenes encoded as real H.264 videos.

Each class is a ``verb noun`` pair. The MOTION of the object carries the verb and its SHAPE
carries the noun; colours, size, start position, speed and background are drawn at random per
video, independently of the class, so a model can only tell classes apart by shape and motion.
Everything is drawn from one ``np.random.Generator``, so a seed fixes a video exactly.

Coordinates of a motion are normalised: ``x`` in [0, 1] across the frame width, ``y`` in [0, 1]
from resting on the ground (0) to touching the top of the frame (1); ``angle`` in radians,
counter-clockwise. Motions are defined for ``t`` in [0, 1], so any number of frames shows the
whole motion pattern.
"""

import csv
import os
from pathlib import Path
from typing import NamedTuple

import av
import numpy as np
from tqdm import tqdm

CLASSES = [
    "roll ball", "roll ring", "throw ball", "throw box", "throw ring", "throw stick",
    "toss ball", "toss ring", "bounce ball", "bounce box", "drop ball", "drop box", "drop stick",
    "lift ball", "lift box", "spin box", "spin ring", "shake box", "shake stick", "swing ring",
    "swing stick", "slide box", "push box", "pull box",
]

GROUND = 0.82  # ground line, as a fraction of the frame height from the top
SENSOR_NOISE = 1.5  # std of the per-frame pixel noise, in grey levels
MIN_CONTRAST = 110.0  # least RGB distance between object and background colours


class Path2D(NamedTuple):
    """A motion: per-frame ``x``, ``y``, ``angle``; ``pivot`` (x, y) for a hanging object."""

    x: np.ndarray
    y: np.ndarray
    angle: np.ndarray
    pivot: tuple | None = None


class Look(NamedTuple):
    """What a motion needs to know about the scene (all in normalised units)."""

    speed: float  # tempo factor, ~0.7-1.3
    radius: float  # object radius in x units, to roll without slipping
    aspect: float  # length of one y unit measured in x units, for round pendulum arcs


class Scene(NamedTuple):
    """A rendered video with its ground truth: ``frames`` (T, H, W, 3) uint8 RGB, and the
    object's pixel ``mask`` and ``marker`` (stripe) mask, both (T, H, W) bool."""

    frames: np.ndarray
    mask: np.ndarray
    marker: np.ndarray


# ---------------------------------------------------------------- motions (one per verb)

def _ramp(t, duration):
    """Progress 0 -> 1 over ``duration`` (fraction of the video), then held at 1."""
    return np.clip(t / duration, 0.0, 1.0)


def _cycles(t, wanted):
    """Number of cycles to show, capped at one per 4 frames so short videos do not alias."""
    return min(wanted, max(len(t), 2) / 4.0)


def _direction(rng):
    return 1.0 if rng.random() < 0.5 else -1.0


def _start(rng, direction, travel):
    """Start x so that a travel of ``travel`` in ``direction`` stays inside the frame."""
    x0 = rng.uniform(0.1, max(0.1, 0.9 - travel))
    return x0 if direction > 0 else 1.0 - x0


def roll(t, look, rng):
    """Constant speed along the ground, rotating without slipping (angle = distance / radius)."""
    direction, travel = _direction(rng), 0.55 * look.speed
    x0 = _start(rng, direction, travel)
    x = x0 + direction * travel * t
    return Path2D(x, np.zeros_like(t), -(x - x0) / look.radius)


def slide(t, look, rng):
    """Along the ground without rotating, slowing down to a stop (friction)."""
    direction, travel = _direction(rng), 0.5 * look.speed
    x0 = _start(rng, direction, travel)
    s = _ramp(t, 0.9)
    x = x0 + direction * travel * (1.0 - (1.0 - s) ** 2)
    return Path2D(x, np.zeros_like(t), np.zeros_like(t))


def push(t, look, rng):
    """From rest, rightwards along the ground with steady acceleration."""
    x0 = rng.uniform(0.1, 0.2)
    s = np.clip((t - 0.1) / 0.9, 0.0, 1.0)
    x = x0 + 0.55 * look.speed * s**2
    return Path2D(x, np.zeros_like(t), np.zeros_like(t))


def pull(t, look, rng):
    """As push, but leftwards."""
    p = push(t, look, rng)
    return p._replace(x=1.0 - p.x)


def throw(t, look, rng):
    """Fast, high parabolic arc across the frame, tumbling once, then resting where it lands."""
    direction = _direction(rng)
    x0 = _start(rng, direction, 0.7)
    s = _ramp(t, 0.55 / look.speed)
    x = x0 + direction * 0.7 * s
    y = 0.95 * 4.0 * s * (1.0 - s)
    return Path2D(x, y, -direction * 2.0 * np.pi * s)


def toss(t, look, rng):
    """Small, slow arc: up and back down near where it started."""
    direction = _direction(rng)
    x0 = _start(rng, direction, 0.1)
    s = _ramp(t, 0.95)
    height = 0.3 + 0.2 * look.speed
    x = x0 + direction * 0.08 * s
    return Path2D(x, height * 4.0 * s * (1.0 - s), np.zeros_like(t))


def bounce(t, look, rng):
    """Repeated vertical bounces on the ground (|sin|), slowly losing height."""
    x0 = rng.uniform(0.2, 0.8)
    n = _cycles(t, 3.0 * look.speed)
    y = rng.uniform(0.55, 0.75) * np.exp(-0.6 * t) * np.abs(np.sin(np.pi * n * t))
    return Path2D(np.full_like(t, x0), y, np.zeros_like(t))


def drop(t, look, rng):
    """Falls from the top under gravity (y = 1 - s^2) and rests on the ground."""
    x0 = rng.uniform(0.2, 0.8)
    s = _ramp(t - 0.05, 0.45 / look.speed)
    return Path2D(np.full_like(t, x0), 1.0 - s**2, np.zeros_like(t))


def lift(t, look, rng):
    """Rises slowly and smoothly from the ground to the top."""
    x0 = rng.uniform(0.2, 0.8)
    s = _ramp(t - 0.1, 0.8 / look.speed)
    return Path2D(np.full_like(t, x0), s * s * (3.0 - 2.0 * s), np.zeros_like(t))


def spin(t, look, rng):
    """Rotates fast in place, a little above the ground."""
    x0, y0 = rng.uniform(0.2, 0.8), rng.uniform(0.1, 0.4)
    turns = min(2.5 * look.speed, len(t) / 6.0)  # at most 60 degrees per frame
    angle = _direction(rng) * 2.0 * np.pi * turns * t
    return Path2D(np.full_like(t, x0), np.full_like(t, y0), angle)


def shake(t, look, rng):
    """Fast, small horizontal oscillation in place."""
    x0, y0 = rng.uniform(0.2, 0.8), rng.uniform(0.0, 0.4)
    n = _cycles(t, 6.0 * look.speed)
    x = x0 + 0.05 * np.sin(2.0 * np.pi * n * t)
    return Path2D(x, np.full_like(t, y0), np.zeros_like(t))


def swing(t, look, rng):
    """Pendulum hanging from a pivot at the top of the frame; the object turns with the string."""
    px, length = rng.uniform(0.3, 0.7), rng.uniform(0.65, 0.85)
    amplitude = rng.uniform(0.5, 0.8)
    n = _cycles(t, 1.5 * look.speed)
    theta = amplitude * np.cos(2.0 * np.pi * n * t)
    x = px + length * np.sin(theta) * look.aspect
    y = 1.0 - length * np.cos(theta)
    return Path2D(x, y, theta, pivot=(px, 1.0))


MOTIONS = {
    "roll": roll, "slide": slide, "push": push, "pull": pull, "throw": throw, "toss": toss,
    "bounce": bounce, "drop": drop, "lift": lift, "spin": spin, "shake": shake, "swing": swing,
}

# ---------------------------------------------------------------- shapes (one per noun)
# Each takes local coordinates (u along the object's angle, v across it, y up) and the radius
# in pixels, and returns the object's mask.


def ball(u, v, r):
    """Filled disc."""
    return u * u + v * v <= r * r


def box(u, v, r):
    """Filled square."""
    return np.maximum(np.abs(u), np.abs(v)) <= 0.85 * r


def ring(u, v, r):
    """Annulus."""
    d2 = u * u + v * v
    return (d2 <= r * r) & (d2 >= (0.55 * r) ** 2)


def stick(u, v, r):
    """Long thin bar along u."""
    return (np.abs(u) <= 1.7 * r) & (np.abs(v) <= 0.25 * r)


SHAPES = {"ball": ball, "box": box, "ring": ring, "stick": stick}
REST = {"ball": 1.0, "box": 0.85, "ring": 1.0, "stick": 0.25}  # half height at angle 0, in r


def _marker(u, v, r):
    """Stripe from the centre to the edge along the object's angle, so rotation is visible."""
    return (u >= 0) & (np.abs(v) <= 0.3 * r)


# ---------------------------------------------------------------- scene


def _check_size(frames, width, height):
    if not isinstance(frames, (int, np.integer)) or frames < 1:
        raise ValueError(f"frames must be an integer >= 1, got {frames!r}")
    for name, value in (("width", width), ("height", height)):
        if not isinstance(value, (int, np.integer)) or value < 2 or value % 2:
            raise ValueError(f"{name} must be an even integer >= 2 (H.264 yuv420p), got {value!r}")


def _colour(rng):
    return rng.uniform(20.0, 235.0, size=3)


def _background(rng, width, height):
    """Random colour, darker ground band, and a mild static texture (gradient + smooth noise)."""
    base = _colour(rng)
    rows = np.arange(height)[:, None, None]
    image = np.broadcast_to(base, (height, width, 3)).astype(np.float32)
    image = image * np.where(rows >= GROUND * height, 0.7, 1.0)
    image = image + rng.uniform(-12.0, 12.0) * (rows / height - 0.5)
    coarse = rng.normal(0.0, 6.0, size=(7, 9, 1))  # low-res noise, upsampled bilinearly
    ys, xs = np.linspace(0, 6, height), np.linspace(0, 8, width)
    iy, ix = np.minimum(ys.astype(int), 5), np.minimum(xs.astype(int), 7)
    fy, fx = (ys - iy)[:, None, None], (xs - ix)[None, :, None]
    top = coarse[iy][:, ix] * (1 - fx) + coarse[iy][:, ix + 1] * fx
    bottom = coarse[iy + 1][:, ix] * (1 - fx) + coarse[iy + 1][:, ix + 1] * fx
    return (image + top * (1 - fy) + bottom * fy).astype(np.float32), base


def _object_colour(rng, background):
    """An object colour far enough from the background colour to be clearly visible."""
    for _ in range(100):
        colour = _colour(rng)
        if np.linalg.norm(colour - background) >= MIN_CONTRAST:
            return colour
    return 255.0 - background


def _marker_colour(colour):
    """Dark stripe on a light object, light stripe on a dark one."""
    light = colour @ np.array([0.299, 0.587, 0.114]) > 128
    return colour * 0.25 if light else colour * 0.35 + 165.0


def _to_pixels(x, y, rest, r, width, height):
    """Normalised (x, y) -> pixel centre; y = 0 rests the object (half height ``rest``) on the
    ground line, y = 1 puts its top (radius ``r``) at the top of the frame."""
    ground = GROUND * height - rest
    return x * width, ground - y * (ground - r - 2.0)


def _segment_mask(xx, yy, a, b, width=0.8):
    """Pixels within ``width`` of the segments a[t] -> b[t] (arrays of shape (T, 2))."""
    ax, ay, dx, dy = (c.astype(np.float32)[:, None, None]
                      for c in (a[:, 0], a[:, 1], b[:, 0] - a[:, 0], b[:, 1] - a[:, 1]))
    px, py = xx - ax, yy - ay
    s = np.clip((px * dx + py * dy) / np.maximum(dx * dx + dy * dy, 1e-9), 0.0, 1.0)
    return (px - s * dx) ** 2 + (py - s * dy) ** 2 <= width * width


def render_scene(verb, noun, rng, frames, width, height):
    """Render one video and return it with the object and marker masks (ground truth for tests
    and inspection). All random draws up to the motion are the same for every class."""
    if verb not in MOTIONS:
        raise ValueError(f"unknown verb {verb!r}; choose one of {sorted(MOTIONS)}")
    if noun not in SHAPES:
        raise ValueError(f"unknown noun {noun!r}; choose one of {sorted(SHAPES)}")
    _check_size(frames, width, height)
    background, base = _background(rng, width, height)
    colour = _object_colour(rng, base)
    r = rng.uniform(0.09, 0.13) * height
    rest = REST[noun] * r
    look = Look(speed=rng.uniform(0.7, 1.3), radius=r / width,
                aspect=(GROUND * height - rest - r - 2.0) / width)
    noise_seed = int(rng.integers(2**32))
    path = MOTIONS[verb](np.linspace(0.0, 1.0, frames) if frames > 1 else np.zeros(1), look, rng)

    cx, cy = _to_pixels(path.x, path.y, rest, r, width, height)
    yy, xx = np.mgrid[0:height, 0:width].astype(np.float32) + 0.5
    cx, cy, cos, sin = (c.astype(np.float32)[:, None, None]
                        for c in (cx, cy, np.cos(path.angle), np.sin(path.angle)))
    du, dv = xx - cx, cy - yy  # dv: y up
    u, v = du * cos + dv * sin, dv * cos - du * sin
    mask = SHAPES[noun](u, v, r)
    marker = mask & _marker(u, v, r)

    video = np.repeat(background[None], frames, axis=0)
    if path.pivot is not None:
        pivot = np.array([_to_pixels(*path.pivot, rest, r, width, height)])
        string = _segment_mask(xx, yy, np.repeat(pivot, frames, 0),
                               np.stack([cx.ravel(), cy.ravel()], 1))
        video[string] = _marker_colour(base)
    video[mask] = colour
    video[marker] = _marker_colour(colour)
    noise = np.random.default_rng(noise_seed).standard_normal(video.shape, dtype=np.float32)
    video += SENSOR_NOISE * noise
    return Scene(np.clip(np.rint(video), 0, 255).astype(np.uint8), mask, marker)


def render_frames(verb, noun, rng, frames, width, height):
    """Render one video of ``verb`` applied to ``noun``: uint8 (frames, height, width, 3) RGB."""
    return render_scene(verb, noun, rng, frames, width, height).frames


# ---------------------------------------------------------------- files


def write_video(path, frames, fps=30):
    """Encode uint8 RGB frames (T, H, W, 3) as H.264 (yuv420p) at ``fps``.

    Single-threaded x264 makes the output deterministic; the file is written under a temporary
    name and renamed, so an interrupted write never leaves a partial file at ``path``.
    """
    frames = np.asarray(frames)
    if frames.dtype != np.uint8 or frames.ndim != 4 or frames.shape[-1] != 3 or not len(frames):
        raise ValueError(f"frames must be uint8 (T>=1, H, W, 3), got {frames.dtype} {frames.shape}")
    _check_size(len(frames), frames.shape[2], frames.shape[1])
    if not isinstance(fps, (int, np.integer)) or fps < 1:
        raise ValueError(f"fps must be an integer >= 1, got {fps!r}")
    path = Path(path)
    tmp = path.with_name(f"{path.stem}.tmp{path.suffix or '.mp4'}")
    try:
        with av.open(str(tmp), "w", format="mp4") as container:
            stream = container.add_stream("libx264", rate=fps)
            stream.width, stream.height = frames.shape[2], frames.shape[1]
            stream.pix_fmt = "yuv420p"
            stream.options = {"threads": "1", "crf": "18", "preset": "medium"}
            for i, image in enumerate(frames):
                frame = av.VideoFrame.from_ndarray(image, format="rgb24")
                frame.pts = i
                container.mux(stream.encode(frame))
            container.mux(stream.encode())
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)


def _parse_classes(classes):
    classes = CLASSES if classes is None else list(classes)
    for name in classes:
        if name not in CLASSES:
            raise ValueError(f"unknown class {name!r}; classes are {CLASSES}")
    return classes


def render_dataset(out_dir, seed, videos_per_class, frames, width, height, classes=None,
                   progress=True):
    """Render ``videos_per_class`` videos per class to ``out_dir/<verb>_<noun>/`` and write
    ``out_dir/index.csv`` (path,class). Returns the (relative path, class) rows.

    Video k of a class uses ``default_rng([seed, class index in CLASSES, k])``, so a video does
    not change when the number of videos or the class subset changes.
    """
    classes = _parse_classes(classes)
    if not isinstance(videos_per_class, (int, np.integer)) or videos_per_class < 1:
        raise ValueError(f"videos_per_class must be an integer >= 1, got {videos_per_class!r}")
    _check_size(frames, width, height)
    out_dir = Path(out_dir)
    rows = []
    with tqdm(total=len(classes) * videos_per_class, desc="render", unit="video",
              disable=not progress) as bar:
        for name in classes:
            verb, noun = name.split()
            folder = out_dir / f"{verb}_{noun}"
            folder.mkdir(parents=True, exist_ok=True)
            for k in range(videos_per_class):
                rng = np.random.default_rng([seed, CLASSES.index(name), k])
                write_video(folder / f"{verb}_{noun}_{k:03d}.mp4",
                            render_frames(verb, noun, rng, frames, width, height))
                rows.append((f"{verb}_{noun}/{verb}_{noun}_{k:03d}.mp4", name))
                bar.update()
    _write_index(out_dir / "index.csv", rows)
    return rows


def _write_index(path, rows):
    """Write index.csv atomically."""
    tmp = path.with_name(path.name + ".tmp")
    with open(tmp, "w", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(["path", "class"])
        writer.writerows(rows)
    os.replace(tmp, path)
