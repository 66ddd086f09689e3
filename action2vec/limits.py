"""What the machine can hold: the memory a stage needs, as its params decide it, and the disk
space the trainings write, checked before any work (the disk by files.check_free_space), so that
a size that cannot run is refused by name instead of failing hours later in a worker.

The estimates are upper bounds of the arrays that dominate (the counts are exact, the bytes per
element are float32's); tests/test_limits.py checks the parameter count against the model's.
Kept free of torch so that the params check stays quick.
"""

import os
from pathlib import Path

FLOAT = 4  # bytes of a float32
# Label-vector sizes are known only once the vectors load: 384 (minilm) is the largest packaged,
# and word2vec files are 300-d; a bound that covers both.
MAX_EMBED_DIM = 1024
MAX_CLASSES = 1000  # Kinetics-700 has the most classes of the datasets the pipeline reads
# C3D and I3D on one clip of 16 frames at their input size keep at most two layers' outputs
# alive at once in inference; C3D's conv1 output alone is 64 x 16 x 112 x 112 floats.
CLIP_ACTIVATIONS = 2 * 64 * 16 * 112 * 112 * FLOAT
FRAME_SIZES = {"c3d": (128, 171), "i3d": (256, 341)}  # frames are decoded at these sizes


def lstm_parameters(inputs, hidden, attention):
    """An LSTM cell of ``hidden`` units on ``inputs`` features, with its attention layers."""
    cell = 4 * hidden * (inputs + hidden) + 8 * hidden
    attend = inputs * attention + attention + hidden * attention + attention if attention else 0
    return cell + attend


def hrnn_parameters(input_dim, embed_dim, n_classes, kind, lstm1, lstm2, attention):
    """The number of weights of HRNN (model.py) with these sizes."""
    count = lstm_parameters(input_dim, lstm1, attention)
    top = lstm1
    if kind != "single":
        count += lstm_parameters(lstm1, lstm2, attention)
        top = lstm2
    return count + top * embed_dim + embed_dim + embed_dim * n_classes + n_classes


def training_bytes(t, input_dim, steps, embed_dim=MAX_EMBED_DIM, n_classes=MAX_CLASSES):
    """An upper bound of one training's memory: weights, gradients and Adam's two moments, and
    the activations kept for backpropagation through every step of a batch (the gates and states
    of both LSTMs, and attention's scores over every step at every step)."""
    weights = hrnn_parameters(input_dim, embed_dim, n_classes, "hrnn", t["lstm1"], t["lstm2"],
                              t["attention"])
    per_step = 12 * (t["lstm1"] + t["lstm2"]) + 3 * steps * t["attention"] + 2 * input_dim
    activations = t["batch_size"] * steps * per_step
    return FLOAT * (4 * weights + activations)


def training_disk_bytes(t, input_dim, embed_dim, n_classes, jobs, scratch_files,
                        sequences_bytes):
    """What trainings write: each job's model file and its resume state (weights and Adam's two
    moments), and the scratch sequence files alive at once (each ``sequences_bytes``: the
    ragged size of the videos it holds, ``sequences.ragged_bytes``)."""
    weights = hrnn_parameters(input_dim, embed_dim, n_classes, "hrnn", t["lstm1"], t["lstm2"],
                              t["attention"])
    return jobs * 4 * FLOAT * weights + scratch_files * sequences_bytes


def decode_bytes(backbone, fps, max_seconds, workers):
    """Decoded videos held at once by extract: ``workers + 2`` videos of uint8 frames and their
    float32 copy for the network."""
    height, width = FRAME_SIZES[backbone]
    frames = int(fps * max_seconds) + 1
    return (workers + 2) * frames * height * width * 3 * (1 + FLOAT)


def extract_bytes(batch_size):
    """A batch of clips through the network (C3D's activations; I3D's first layers, with a
    stride of 2 over 224 x 224 frames, hold as many)."""
    return batch_size * CLIP_ACTIVATIONS


def render_bytes(frames, width, height):
    """One rendered video's frames, drawn as float and kept as uint8."""
    return frames * width * height * 3 * (1 + FLOAT)


def memory_limit():
    """Bytes of memory this process may use: the machine's, or its control group's limit when
    lower (a cluster job's allocation)."""
    total = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    for path in ("/sys/fs/cgroup/memory.max", "/sys/fs/cgroup/memory/memory.limit_in_bytes"):
        try:
            text = Path(path).read_text().strip()
        except OSError:
            continue
        if text.isdigit():
            total = min(total, int(text))
    return total


def usable_cores():
    """The cores this process may run on (a cluster job's share, not the machine's)."""
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()


def training_workers(t, cores):
    """Trainings run at once by the train stage: train.workers, or one per core on a CPU (one
    on a GPU: each process holds a CUDA context)."""
    return t["workers"] or (cores if t["device"] == "cpu" else 1)


def gigabytes(n):
    return f"{n / 2**30:.1f} GiB"


def memory_problems(p, cores, limit=None):
    """Params whose memory, as estimated here, is more than the machine holds: one line each,
    naming the keys to change. PCA's is left out: it depends on how many clips the dataset
    has, up to pca.max_fit_samples."""
    limit = memory_limit() if limit is None else limit
    t, f, d = p["train"], p["features"], p["decode"]
    workers = training_workers(t, cores)
    needs = [
        ("train.lstm1/lstm2/attention/batch_size (x train.workers)",
         workers * training_bytes(t, p["pca"]["dims"], p["sequence"]["steps"])),
        ("decode.fps/max_seconds/workers",
         decode_bytes(f["backbone"], d["fps"], d["max_seconds"], d["workers"])),
        ("features.batch_size", extract_bytes(f["batch_size"])),
        ("render.frames/width/height", render_bytes(p["render"]["frames"], p["render"]["width"],
                                                    p["render"]["height"])),
    ]
    return [f"{keys}: about {gigabytes(need)} of memory needed, {gigabytes(limit)} on this "
            "machine; make them smaller" for keys, need in needs if need > limit]
