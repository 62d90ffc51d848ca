# Sourced by the CI steps that need an environment of their own (bash).
# fresh_venv DIR ARGS...: a new venv in DIR with the CPU build of torch (pip: uv does not look
# where that wheel lies), then `uv pip install ARGS...` for everything else.
fresh_venv() {
    local dir="$1"
    shift
    python3 -m venv "$dir"
    "$dir/bin/pip" install --quiet torch==2.13.0 uv
    "$dir/bin/uv" pip install --quiet --python "$dir/bin/python" "$@"
}
