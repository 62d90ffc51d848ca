"""The tutorial notebooks run top to bottom, with clean outputs and their stated files.

Each notebook runs in a fresh kernel of this interpreter, in ``tmp_path``, through the
functions of ``tutorials/run_notebooks.py`` (the script ``make demo`` and the maintainers use
to execute and store them). Minutes on 2 CPU cores: the whole set takes several minutes.
"""

import importlib.util
from pathlib import Path

import pytest

pytestmark = pytest.mark.slow

RUNNER_PATH = Path(__file__).resolve().parents[1] / "tutorials" / "run_notebooks.py"


def _load_runner():
    spec = importlib.util.spec_from_file_location("run_notebooks", RUNNER_PATH)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


runner = _load_runner()

#: Files each tutorial says it writes into its working directory.
OUTPUTS = {
    "01_scdcc_pbmc": ["pbmc_scdcc.h5ad", "pbmc_scdcc_umap.png"],
    "02_desc_pbmc": ["pbmc_desc.h5ad"],
    "03_reuse_model_pbmc": [
        "pbmc_new_cells.h5ad",
        "pbmc_new_cells_predicted.h5ad",
        "pbmc_scdcc_model/model.json",
        "pbmc_scdcc_model/weights.pt",
    ],
    "04_batches_cellbench": ["cellbench_batches.h5ad", "cellbench_batch_umaps.png"],
    "05_constraints_cite": ["cite_constraints.h5ad"],
    "06_annotate_kang": ["kang_annotated.h5ad"],
    "07_command_line": [
        "kang_donor101_scdcc.h5ad",
        "kang_donor107_scdcc.h5ad",
        "kang_model/model.json",
    ],
}

NOTEBOOKS = [path.stem for path in runner.find_notebooks()]


def test_every_notebook_has_its_outputs_listed():
    assert sorted(NOTEBOOKS) == sorted(OUTPUTS)


@pytest.mark.parametrize("name", NOTEBOOKS)
def test_tutorial_runs_clean(name, tmp_path):
    (path,) = runner.find_notebooks([name])
    seconds, problems = runner.run_one(path, tmp_path, timeout=900, store=False)
    assert not problems, "\n".join(problems)

    executed = runner.nbformat.read(tmp_path / f"{name}.ipynb", as_version=4)
    assert runner.check_outputs(executed, name, runner.forbidden_strings(tmp_path)) == []
    code = [cell for cell in executed.cells if cell.cell_type == "code"]
    assert all(cell.execution_count for cell in code), "a code cell did not run"
    outputs = [o for cell in code for o in cell.outputs]
    assert not any(o.get("output_type") == "error" for o in outputs)
    assert not any(runner.WIDGET_MIME in o.get("data", {}) for o in outputs)

    missing = [f for f in OUTPUTS[name] if not (tmp_path / f).is_file()]
    assert not missing, f"{name} did not write {missing}"


def test_check_outputs_flags_paths_and_warnings(tmp_path):
    nbformat = runner.nbformat
    nb = nbformat.v4.new_notebook()
    nb.cells = [
        nbformat.v4.new_code_cell(
            "x",
            outputs=[
                nbformat.v4.new_output("stream", name="stdout", text=f"wrote {tmp_path}/a.h5ad"),
                nbformat.v4.new_output(
                    "stream", name="stderr", text="lib.py:1: UserWarning: careful\n"
                ),
            ],
        ),
        nbformat.v4.new_code_cell(
            "y",
            outputs=[
                nbformat.v4.new_output(
                    "display_data", data={runner.WIDGET_MIME: {"model_id": "x"}}
                ),
                nbformat.v4.new_output(
                    "stream", name="stderr", text="\rfit:  50%|#####     | 5/10 [00:01<00:01]"
                ),
            ],
        ),
    ]
    problems = runner.check_outputs(nb, "demo", runner.forbidden_strings(tmp_path))
    assert any("demo cell 1" in p and "local path" in p for p in problems)
    assert any("demo cell 1" in p and "UserWarning" in p for p in problems)
    cleaned = runner.clean(nb)
    assert cleaned.cells[1].outputs == []
    assert len(cleaned.cells[0].outputs) == 2
