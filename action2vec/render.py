"""Render the toy action dataset: simple animated scenes encoded as real H.264 videos.

Each class is a ``verb noun`` pair. The MOTION of the object carries the verb and its SHAPE
carries the noun; colours, size, start position, speed and background are drawn at random per
video, independently of the class, so a model can only tell classes apart by shape and motion.
Everything is drawn from one ``np.random.Generator``, so a seed fixes a video exactly.

Coordinates of a motion are normalised: ``x`` in [0, 1] across the frame width, ``y`` in [0, 1]
from resting on the ground (0) to touching the top of the frame (1); ``angle`` in radians,
counter-clockwise. Motions are defined for ``t`` in [0, 1], so any number of frames shows the
whole motion pattern. Horizontal positions and travels are fractions of the room the object's
width leaves (``Look.extent``), so the whole object stays inside the frame at any size (unless
the frame is narrower than the object).
"""

import csv
from pathlib import Path
from typing import Callable, NamedTuple

import av
import numpy as np

from action2vec.files import atomic
from action2vec.progress import bar as progress_bar

CLASSES = [
    "roll ball", "roll ring", "throw ball", "throw box", "throw ring", "throw stick",
    "toss ball", "toss ring", "bounce ball", "bounce box", "drop ball", "drop box", "drop stick",
    "lift ball", "lift box", "spin box", "spin ring", "shake box", "shake stick", "swing ring",
    "swing stick", "slide box", "push box", "pull box",
]

GROUND = 0.82  # ground line, as a fraction of the frame height from the top
SENSOR_NOISE = 1.5  # std of the per-frame pixel noise, in grey levels
MIN_CONTRAST = 110.0  # least RGB distance between object and background colours
# Dark backgrounds and bright objects, each of random hue: without Sports-1M weights C3D is
# randomly initialised and mostly sees luminance, so a fixed light-on-dark polarity keeps shape
# and motion the strongest signal while colour, texture and size still vary per video.
BACKGROUND_LEVELS = (20.0, 80.0)
OBJECT_LEVELS = (150.0, 250.0)
SIZE = (0.18, 0.24)  # object radius, as a fraction of the frame height
# One thread, and no macroblock-tree rate control: with mbtree on, x264's SIMD code made the
# bitstream vary from run to run for frame sizes that are not multiples of 16 (e.g. 160x120).
X264_OPTIONS = {"threads": "1", "crf": "18", "preset": "faster", "x264-params": "no-mbtree=1"}


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
    extent: float  # the object's largest half width over all angles, plus a pixel, in x units
    top: float  # y of the top edge of the frame (y = 1 leaves 2 pixels above a round object)
    half_height: Callable  # the object's half height in y units, given its angle


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


def _room(look):
    """How far the object's centre can move across the frame with all of it staying inside."""
    return max(1.0 - 2.0 * look.extent, 0.0)


def _across(look, fraction):
    """x at ``fraction`` (0..1) of the room: 0 puts the object against the left edge."""
    return look.extent + fraction * _room(look)


def _start(rng, direction, travel, look):
    """Start x so that a travel of ``travel`` (x units) in ``direction`` stays inside the frame."""
    x0 = look.extent + rng.uniform(0.0, 1.0) * max(_room(look) - travel, 0.0)
    return x0 if direction > 0 else 1.0 - x0


def roll(t, look, rng):
    """Constant speed along the ground, rotating without slipping (angle = distance / radius)."""
    direction, travel = _direction(rng), 0.65 * look.speed * _room(look)
    x0 = _start(rng, direction, travel, look)
    x = x0 + direction * travel * t
    return Path2D(x, np.zeros_like(t), -(x - x0) / look.radius)


def slide(t, look, rng):
    """Along the ground without rotating, slowing down to a stop (friction)."""
    direction, travel = _direction(rng), 0.6 * look.speed * _room(look)
    x0 = _start(rng, direction, travel, look)
    s = _ramp(t, 0.9)
    x = x0 + direction * travel * (1.0 - (1.0 - s) ** 2)
    return Path2D(x, np.zeros_like(t), np.zeros_like(t))


def push(t, look, rng):
    """From rest, rightwards along the ground with steady acceleration."""
    x0 = _across(look, rng.uniform(0.0, 0.12))
    s = np.clip((t - 0.1) / 0.9, 0.0, 1.0)
    x = x0 + 0.65 * look.speed * _room(look) * s**2
    return Path2D(x, np.zeros_like(t), np.zeros_like(t))


def pull(t, look, rng):
    """As push, but leftwards."""
    p = push(t, look, rng)
    return p._replace(x=1.0 - p.x)


def throw(t, look, rng):
    """Fast, high parabolic arc across the frame, tumbling once, then resting where it lands.
    The arc is lowered where a long object, turned upright, would reach higher than a round
    one at y = 1 (2 pixels below the top edge)."""
    direction, travel = _direction(rng), 0.85 * _room(look)
    x0 = _start(rng, direction, travel, look)
    s = _ramp(t, 0.55 / look.speed)
    x = x0 + direction * travel * s
    arc = np.linspace(0.02, 0.98, 49)
    highest = 1.0 + look.radius / look.aspect - look.half_height(2.0 * np.pi * arc)
    free = highest / (4.0 * arc * (1.0 - arc))
    y = min(0.95, free.min()) * 4.0 * s * (1.0 - s)
    return Path2D(x, y, -direction * 2.0 * np.pi * s)


def toss(t, look, rng):
    """Small, slow arc: up and back down near where it started."""
    direction, travel = _direction(rng), 0.1 * _room(look)
    x0 = _start(rng, direction, travel, look)
    s = _ramp(t, 0.95)
    height = 0.3 + 0.2 * look.speed
    x = x0 + direction * travel * s
    return Path2D(x, height * 4.0 * s * (1.0 - s), np.zeros_like(t))


def bounce(t, look, rng):
    """Repeated vertical bounces on the ground (|sin|), slowly losing height."""
    x0 = _across(look, rng.uniform(0.1, 0.9))
    n = _cycles(t, 3.0 * look.speed)
    y = rng.uniform(0.55, 0.75) * np.exp(-0.6 * t) * np.abs(np.sin(np.pi * n * t))
    return Path2D(np.full_like(t, x0), y, np.zeros_like(t))


def drop(t, look, rng):
    """Falls from the top under gravity (y = 1 - s^2) and rests on the ground."""
    x0 = _across(look, rng.uniform(0.1, 0.9))
    s = _ramp(t - 0.05, 0.45 / look.speed)
    return Path2D(np.full_like(t, x0), 1.0 - s**2, np.zeros_like(t))


def lift(t, look, rng):
    """Rises slowly and smoothly from the ground to the top."""
    x0 = _across(look, rng.uniform(0.1, 0.9))
    s = _ramp(t - 0.1, 0.8 / look.speed)
    return Path2D(np.full_like(t, x0), s * s * (3.0 - 2.0 * s), np.zeros_like(t))


def spin(t, look, rng):
    """Rotates fast in place, a little above the ground."""
    x0, y0 = _across(look, rng.uniform(0.1, 0.9)), rng.uniform(0.1, 0.4)
    turns = min(2.5 * look.speed, len(t) / 6.0)  # at most 60 degrees per frame
    angle = _direction(rng) * 2.0 * np.pi * turns * t
    return Path2D(np.full_like(t, x0), np.full_like(t, y0), angle)


def shake(t, look, rng):
    """Fast, small horizontal oscillation in place."""
    amplitude = min(0.05, _room(look) / 2.0)
    x0 = look.extent + amplitude + rng.uniform(0.1, 0.9) * (_room(look) - 2.0 * amplitude)
    y0 = rng.uniform(0.0, 0.4)
    n = _cycles(t, 6.0 * look.speed)
    x = x0 + amplitude * np.sin(2.0 * np.pi * n * t)
    return Path2D(x, np.full_like(t, y0), np.zeros_like(t))


def swing(t, look, rng):
    """Pendulum hanging from a pivot on the top edge of the frame; the object turns with the
    string. The swing is narrowed where needed so that the object stays inside the frame."""
    where, length = rng.uniform(0.0, 1.0), look.top * rng.uniform(0.75, 0.95)
    reach = min(np.sin(rng.uniform(0.5, 0.8)), _room(look) / (2.0 * length * look.aspect))
    amplitude = np.arcsin(reach)
    px = 0.5 + (where - 0.5) * (_room(look) - 2.0 * length * look.aspect * reach)
    n = _cycles(t, 1.5 * look.speed)
    theta = amplitude * np.cos(2.0 * np.pi * n * t)
    x = px + length * np.sin(theta) * look.aspect
    y = look.top - length * np.cos(theta)
    return Path2D(x, y, theta, pivot=(px, look.top))


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
# Half length along the object's angle and half width across it, in r, of the rectangular
# shapes; round shapes (None) reach r in every direction.
HALF_AXES = {"ball": None, "box": (0.85, 0.85), "ring": None, "stick": (1.7, 0.25)}


def _half_size(noun, angle):
    """(half width, half height) in r of ``noun`` turned by ``angle``."""
    angle = np.asarray(angle, dtype=float)
    if HALF_AXES[noun] is None:
        return np.ones_like(angle), np.ones_like(angle)
    (a, b), cos, sin = HALF_AXES[noun], np.abs(np.cos(angle)), np.abs(np.sin(angle))
    return a * cos + b * sin, a * sin + b * cos


REST = {noun: float(_half_size(noun, 0.0)[1]) for noun in SHAPES}  # half height at angle 0
EXTENT = {noun: 1.0 if HALF_AXES[noun] is None else float(np.hypot(*HALF_AXES[noun]))
          for noun in SHAPES}  # largest half width over all angles


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


def _smooth_noise(rng, width, height, std=6.0):
    """Low-contrast blotches: a 7x9 grid of random values upsampled bilinearly."""
    coarse = rng.normal(0.0, std, size=(7, 9))
    ys, xs = np.linspace(0, 6, height), np.linspace(0, 8, width)
    iy, ix = np.minimum(ys.astype(int), 5), np.minimum(xs.astype(int), 7)
    fy, fx = (ys - iy)[:, None], (xs - ix)[None, :]
    top = coarse[iy][:, ix] * (1 - fx) + coarse[iy][:, ix + 1] * fx
    bottom = coarse[iy + 1][:, ix] * (1 - fx) + coarse[iy + 1][:, ix + 1] * fx
    return top * (1 - fy) + bottom * fy


def _background(rng, width, height):
    """Random colour, a darker ground band and a mild static texture (gradient + blotches).
    Returns the (H, W, 3) float32 image and its base colour."""
    base = rng.uniform(*BACKGROUND_LEVELS, size=3)
    rows = np.arange(height)[:, None]
    shade = np.where(rows >= GROUND * height, 0.7, 1.0)
    texture = rng.uniform(-12.0, 12.0) * (rows / height - 0.5) + _smooth_noise(rng, width, height)
    image = base * shade[..., None] + texture[..., None]
    return image.astype(np.float32), base


def _object_colour(rng, background):
    """An object colour far enough from the background colour to be clearly visible."""
    for _ in range(100):
        colour = rng.uniform(*OBJECT_LEVELS, size=3)
        if np.linalg.norm(colour - background) >= MIN_CONTRAST:
            return colour
    return 255.0 - background


def _contrast(colour):
    """A colour that stands out on ``colour``: dark on light, light on dark."""
    light = colour @ np.array([0.299, 0.587, 0.114]) > 128
    return colour * 0.25 if light else colour * 0.35 + 165.0


def _to_pixels(x, y, rest, r, width, height):
    """Normalised (x, y) -> pixel centre; y = 0 rests the object (half height ``rest``) on the
    ground line, y = 1 puts its top (radius ``r``) at the top of the frame."""
    ground = GROUND * height - rest
    return x * width, ground - y * (ground - r - 2.0)


def _segment_mask(xx, yy, a, b, half_width=0.8):
    """Pixels within ``half_width`` of the segments a[t] -> b[t] (arrays of shape (T, 2))."""
    ax, ay, dx, dy = (c.astype(np.float32)[:, None, None]
                      for c in (a[:, 0], a[:, 1], b[:, 0] - a[:, 0], b[:, 1] - a[:, 1]))
    px, py = xx - ax, yy - ay
    s = np.clip((px * dx + py * dy) / np.maximum(dx * dx + dy * dy, 1e-9), 0.0, 1.0)
    return (px - s * dx) ** 2 + (py - s * dy) ** 2 <= half_width * half_width


def _object_masks(noun, centres, angle, r, xx, yy):
    """Object and stripe masks (T, H, W) for per-frame pixel centres (cx, cy) and angles."""
    cx, cy, cos, sin = (c.astype(np.float32)[:, None, None]
                        for c in (*centres, np.cos(angle), np.sin(angle)))
    du, dv = xx - cx, cy - yy  # dv: y up
    u, v = du * cos + dv * sin, dv * cos - du * sin
    mask = SHAPES[noun](u, v, r)
    return mask, mask & _marker(u, v, r)


def render_scene(verb, noun, rng, frames, width, height):
    """Render one video and return it with the object and stripe masks (ground truth for tests
    and inspection). All random draws before the motion are the same for every class, so the
    colours, size and speed never depend on the class."""
    if verb not in MOTIONS:
        raise ValueError(f"unknown verb {verb!r}; choose one of {sorted(MOTIONS)}")
    if noun not in SHAPES:
        raise ValueError(f"unknown noun {noun!r}; choose one of {sorted(SHAPES)}")
    _check_size(frames, width, height)
    background, base = _background(rng, width, height)
    colour = _object_colour(rng, base)
    r = rng.uniform(*SIZE) * height
    rest = REST[noun] * r
    unit = GROUND * height - rest - r - 2.0  # pixels per y unit (see _to_pixels)
    look = Look(speed=rng.uniform(0.7, 1.3), radius=r / width, aspect=unit / width,
                extent=(EXTENT[noun] * r + 1.0) / width, top=(GROUND * height - rest) / unit,
                half_height=lambda angle: _half_size(noun, angle)[1] * r / unit)
    noise_rng = np.random.default_rng(rng.integers(2**32))
    path = MOTIONS[verb](np.linspace(0.0, 1.0, frames), look, rng)  # [0.] for one frame

    centres = _to_pixels(path.x, path.y, rest, r, width, height)
    yy, xx = np.mgrid[0:height, 0:width].astype(np.float32) + 0.5
    mask, marker = _object_masks(noun, centres, path.angle, r, xx, yy)
    video = np.repeat(background[None], frames, axis=0)
    if path.pivot is not None:
        pivot = np.array([_to_pixels(*path.pivot, rest, r, width, height)])
        video[_segment_mask(xx, yy, pivot.repeat(frames, 0), np.stack(centres, 1))] = \
            _contrast(base)
    video[mask] = colour
    video[marker] = _contrast(colour)
    video += SENSOR_NOISE * noise_rng.standard_normal(video.shape, dtype=np.float32)
    return Scene(np.clip(np.rint(video), 0, 255).astype(np.uint8), mask, marker)


def render_frames(verb, noun, rng, frames, width, height):
    """Render one video of ``verb`` applied to ``noun``: uint8 (frames, height, width, 3) RGB."""
    return render_scene(verb, noun, rng, frames, width, height).frames


# ---------------------------------------------------------------- files


def write_video(path, frames, fps=30):
    """Encode uint8 RGB frames (T, H, W, 3) as H.264 (yuv420p) at ``fps``.

    ``X264_OPTIONS`` make the output deterministic; the file is written under a temporary
    name and renamed, so an interrupted write never leaves a partial file at ``path``.
    """
    frames = np.asarray(frames)
    if frames.dtype != np.uint8 or frames.ndim != 4 or frames.shape[-1] != 3 or not len(frames):
        raise ValueError(f"frames must be uint8 (T>=1, H, W, 3), got {frames.dtype} {frames.shape}")
    _check_size(len(frames), frames.shape[2], frames.shape[1])
    if not isinstance(fps, (int, np.integer)) or fps < 1:
        raise ValueError(f"fps must be an integer >= 1, got {fps!r}")
    # The container is named (mp4), not guessed from the name, so the temporary name can end
    # in .tmp: a leftover of a killed run is then never taken for a video.
    with atomic(path) as tmp, av.open(str(tmp), "w", format="mp4") as container:
        stream = container.add_stream("libx264", rate=fps)
        stream.width, stream.height = frames.shape[2], frames.shape[1]
        stream.pix_fmt = "yuv420p"
        stream.options = X264_OPTIONS
        for i, image in enumerate(frames):
            frame = av.VideoFrame.from_ndarray(image, format="rgb24")
            frame.pts = i
            container.mux(stream.encode(frame))
        container.mux(stream.encode())


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
    with progress_bar(total=len(classes) * videos_per_class, desc="render", unit="video",
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
    with atomic(path) as tmp, open(tmp, "w", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(["path", "class"])
        writer.writerows(rows)
