#!/usr/bin/env bash
# Install the lowest versions pyproject.toml allows (.ci/min-constraints.txt) into a fresh
# venv and run the quick suite against them.
set -euo pipefail
cd "$(dirname "$0")/.."
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
python3 -m venv "$work/venv"
"$work/venv/bin/pip" install --quiet torch==2.13.0 uv
"$work/venv/bin/uv" pip install --quiet --python "$work/venv/bin/python" \
    -c .ci/min-constraints.txt -e ".[test,tutorials]"
"$work/venv/bin/pip" list 2>/dev/null | grep -iE "^(anndata|scanpy|torch|numpy|scipy|scikit-learn|leidenalg|igraph|h5py|tqdm|pandas|pynndescent) "
"$work/venv/bin/python" -m pytest -m "not slow" -q -p no:cacheprovider
