#!/bin/sh
# GPU figures from a fresh clone, in one command: install the project (make install; offline,
# point pip at a folder of wheels with PIP_NO_INDEX=1 PIP_FIND_LINKS=DIR), then measure.
# Arguments go to bench/gpu.py (e.g. --skip-pipeline, --out FILE, --device cuda:1).
set -e
cd "$(dirname "$0")/.."
make install
exec .venv/bin/python bench/gpu.py "$@"
