"""The ``scdeepclust`` command line: subcommands, atomic outputs, one-line errors."""

from __future__ import annotations

import argparse
import logging
import subprocess
import sys

import anndata as ad
import numpy as np
import pytest

import scdeepclust as sdc
from scdeepclust import cli
from scdeepclust.models import DESCConfig, SCDCCConfig

FAST = ["--pretrain-epochs", "3", "--max-epochs", "3", "--hidden-dims", "16", "--latent-dim", "4"]


@pytest.fixture
def h5ad(tmp_path, synthetic_adata):
    path = tmp_path / "in.h5ad"
    synthetic_adata.write_h5ad(path)
    return path


def _error_line(capsys) -> str:
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1, err  # one line, no traceback
    assert err[0].startswith("scdeepclust: error: ")
    return err[0]


def test_scdcc_then_predict_round_trip(tmp_path, h5ad, capsys, torch_single_thread):
    out, model = tmp_path / "out.h5ad", tmp_path / "model"
    argv = ["scdcc", str(h5ad), str(out), "--n-clusters", "3", "--save-model", str(model)]
    assert cli.main(argv + FAST) == 0
    result = ad.read_h5ad(out)
    assert result.obs["scdcc"].nunique() <= 3
    assert result.obsm["X_scdcc"].shape == (result.n_obs, 4)
    assert result.uns["scdcc"]["params"]["n_clusters"] == 3
    assert sorted(p.name for p in model.iterdir()) == ["model.json", "state.npz", "weights.pt"]

    pred = tmp_path / "pred.h5ad"
    assert cli.main(["predict", str(model), str(h5ad), str(pred)]) == 0
    again = ad.read_h5ad(pred)
    np.testing.assert_array_equal(again.obs["scdcc"], result.obs["scdcc"])
    np.testing.assert_array_equal(again.obsm["X_scdcc"], result.obsm["X_scdcc"])
    printed = capsys.readouterr().out
    assert f"wrote {pred} (obs['scdcc'], obsm['X_scdcc'], obsm['scdcc_q'])" in printed
    assert not list(tmp_path.glob(".*tmp*"))  # no temporary file left behind


def test_desc_several_resolutions(tmp_path, h5ad, torch_single_thread):
    out = tmp_path / "d.h5ad"
    argv = ["desc", str(h5ad), str(out), "--resolution", "0.4", "0.8", "--seed", "1"]
    assert cli.main(argv + ["--pretrain-epochs", "6", "--max-epochs", "3"]) == 0
    result = ad.read_h5ad(out)
    assert {"desc_r0.4", "desc_r0.8"} <= set(result.obs.columns)
    assert result.uns["desc_r0.4"]["params"]["random_state"] == 1


def test_existing_output_needs_force(tmp_path, h5ad, capsys, torch_single_thread):
    out = tmp_path / "out.h5ad"
    out.write_bytes(b"keep me")
    argv = ["scdcc", str(h5ad), str(out), "--n-clusters", "3", *FAST]
    assert cli.main(argv) == 2
    assert "--force" in _error_line(capsys)
    assert out.read_bytes() == b"keep me"
    assert cli.main(argv + ["--force"]) == 0
    assert ad.read_h5ad(out).obs["scdcc"].size == 240


@pytest.mark.parametrize(
    ("extra", "needle"),
    [
        (["--layer", "nope"], "Layer 'nope' not found"),
        (["--mask-var", "nope"], "not a column of adata.var"),
        (["--batch-size", "0"], "batch_size must be a positive integer"),
        (["--n-clusters", "1"], "at least 2 clusters"),
        (["--precision", "fp8"], "precision must be one of"),
        (["--batch-key", "nope"], "batch_key='nope'"),
    ],
)
def test_bad_input_is_one_line_exit_2(tmp_path, h5ad, capsys, extra, needle):
    out = tmp_path / "out.h5ad"
    assert cli.main(["scdcc", str(h5ad), str(out), *extra]) == 2
    assert needle in _error_line(capsys)
    assert not out.exists()


def test_bad_files(tmp_path, h5ad, capsys):
    assert cli.main(["scdcc", str(tmp_path / "missing.h5ad"), str(tmp_path / "o.h5ad")]) == 2
    assert "does not exist" in _error_line(capsys)
    junk = tmp_path / "junk.h5ad"
    junk.write_text("not hdf5")
    assert cli.main(["scdcc", str(junk), str(tmp_path / "o.h5ad")]) == 2
    assert "cannot read" in _error_line(capsys)
    assert cli.main(["predict", str(tmp_path), str(h5ad), str(tmp_path / "p.h5ad")]) == 2
    assert "not a scdeepclust model folder" in _error_line(capsys)
    assert cli.main(["scdcc", str(h5ad), str(h5ad), "--force"]) == 2
    assert "input file" in _error_line(capsys)


def test_help_lists_every_option_with_default(capsys):
    for name, config in (("scdcc", SCDCCConfig), ("desc", DESCConfig)):
        with pytest.raises(SystemExit) as exit_info:
            cli.main([name, "--help"])
        assert exit_info.value.code == 0
        text = " ".join(capsys.readouterr().out.split())
        for field in config.__dataclass_fields__:
            flag = "--seed" if field == "random_state" else "--" + field.replace("_", "-")
            assert flag in text, flag
        assert text.count("(default:") >= len(config.__dataclass_fields__)
        assert "--save-model" in text and "--mask-var" in text and "--force" in text


def test_console_script_entry_point(tmp_path):
    done = subprocess.run(
        [sys.executable, "-m", "scdeepclust", "predict", str(tmp_path), "a.h5ad", "b.h5ad"],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 2
    assert "Traceback" not in done.stderr
    assert "does not exist" in done.stderr


def test_outputs_have_normal_permissions(tmp_path, h5ad, torch_single_thread):
    import os
    import stat

    out, model = tmp_path / "out.h5ad", tmp_path / "model"
    argv = ["scdcc", str(h5ad), str(out), "--n-clusters", "3", "--save-model", str(model)]
    assert cli.main(argv + FAST) == 0
    mask = os.umask(0)
    os.umask(mask)
    assert stat.S_IMODE(out.stat().st_mode) == 0o666 & ~mask
    assert stat.S_IMODE(model.stat().st_mode) == 0o777 & ~mask


#: What a docstring leaves behind when scraped into --help.
RESIDUE = (
    ":func:",
    ":class:",
    ":meth:",
    ":attr:",
    "``",
    "see above",
    "see Returns",
    "torch.device",
)


@pytest.mark.parametrize("command", ["scdcc", "desc", "predict"])
def test_help_is_plain_text_with_one_sentence_per_option(command, capsys):
    with pytest.raises(SystemExit):
        cli.main([command, "--help"])
    text = " ".join(capsys.readouterr().out.split())
    for residue in RESIDUE:
        assert residue not in text, residue
    assert "exit status: 0 done; 2 bad input" in text and "130 interrupted" in text
    parser = cli.build_parser()
    sub = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
    helps = [a.help for a in sub.choices[command]._actions if a.help and a.dest != "help"]
    sentences = [h.split(" (default:")[0] for h in helps]
    assert len(set(sentences)) == len(sentences), "two options share their help"


def test_verbose_sets_the_log_level(tmp_path, h5ad, restore_logger, torch_single_thread):
    out = tmp_path / "v.h5ad"
    argv = ["scdcc", str(h5ad), str(out), "--n-clusters", "3", *FAST, "--force"]
    assert cli.main(["-v", *argv]) == 0
    assert sdc.settings.verbosity == 2 and restore_logger.level == logging.INFO
    assert cli.main(["-vv", *argv]) == 0
    assert sdc.settings.verbosity == 3


def test_diverged_training_exits_1(tmp_path, h5ad, capsys, torch_single_thread):
    out = tmp_path / "d.h5ad"
    argv = ["scdcc", str(h5ad), str(out), "--n-clusters", "3", *FAST, "--pretrain-lr", "1e30"]
    assert cli.main(argv) == cli.EXIT_FAILURE == 1
    assert "diverged" in capsys.readouterr().err
    assert not out.exists()


def test_constraints_from_csv_files_of_obs_names(tmp_path, h5ad, torch_single_thread):
    names = ad.read_h5ad(h5ad).obs_names
    (tmp_path / "ml.csv").write_text(
        f"cell_a,cell_b\n{names[0]},{names[3]}\n{names[1]},{names[4]}\n"
    )
    (tmp_path / "cl.csv").write_text(f"{names[0]},{names[1]}\n")
    out = tmp_path / "c.h5ad"
    argv = ["scdcc", str(h5ad), str(out), "--n-clusters", "3", *FAST]
    extra = ["--must-link", str(tmp_path / "ml.csv"), "--cannot-link", str(tmp_path / "cl.csv")]
    assert cli.main(argv + extra) == 0
    params = ad.read_h5ad(out).uns["scdcc"]["params"]
    assert (params["n_must_link"], params["n_cannot_link"]) == (2, 1)


def test_constraints_from_labels_option(tmp_path, h5ad, torch_single_thread):
    out = tmp_path / "l.h5ad"
    argv = ["scdcc", str(h5ad), str(out), "--n-clusters", "3", *FAST]
    assert cli.main(argv + ["--constraints-from-labels", "group"]) == 0
    params = ad.read_h5ad(out).uns["scdcc"]["params"]
    assert params["n_must_link"] + params["n_cannot_link"] == 1000  # pp's default n_pairs


@pytest.mark.parametrize(
    ("extra", "needle"),
    [
        (["--must-link", "PAIRS", "--constraints-from-rep", "X_pca"], "give constraints one way"),
        (["--must-link", "MISSING"], "cannot read"),
        (["--cannot-link", "BADNAME"], "names 1 cells that are not in adata.obs_names"),
    ],
)
def test_bad_constraint_options_exit_2(tmp_path, h5ad, capsys, extra, needle):
    names = ad.read_h5ad(h5ad).obs_names
    (tmp_path / "pairs.csv").write_text(f"{names[0]},{names[3]}\n")
    (tmp_path / "bad.csv").write_text(f"{names[0]},{names[1]}\n{names[2]},nobody\n")
    files = {"PAIRS": "pairs.csv", "MISSING": "missing.csv", "BADNAME": "bad.csv"}
    extra = [str(tmp_path / files[x]) if x in files else x for x in extra]
    out = tmp_path / "x.h5ad"
    assert cli.main(["scdcc", str(h5ad), str(out), "--n-clusters", "3", *FAST, *extra]) == 2
    assert needle in capsys.readouterr().err
    assert not out.exists()
