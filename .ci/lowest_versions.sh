#!/usr/bin/env bash
# Install the lowest versions pyproject.toml allows (.ci/min-constraints.txt) into a fresh
# venv and run the quick suite against them.
set -euo pipefail
cd "$(dirname "$0")/.."
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
source .ci/fresh_venv.sh
fresh_venv "$work/venv" -c .ci/min-constraints.txt -e ".[test,tutorials]"
"$work/venv/bin/pip" list 2>/dev/null | grep -iE "^(anndata|scanpy|torch|numpy|scipy|scikit-learn|leidenalg|igraph|h5py|tqdm|pandas|pynndescent|docstring.parser) "
"$work/venv/bin/python" -m pytest -m "not slow" -q -p no:cacheprovider
