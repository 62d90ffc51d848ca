"""The ``scdeepclust`` command line: cluster an ``.h5ad`` from a shell, save and reuse models.

Subcommands ``scdcc`` and ``desc`` (one option per parameter of the tool, generated from the
method's config so that nothing can be missing) and ``predict``. Bad input gives one line on
stderr and exit status 2, failed training 1, an interruption 130; outputs are written
atomically and never overwritten without ``--force``.
"""

from __future__ import annotations

import argparse
import dataclasses
import inspect
import os
import re
import sys
import types
import typing
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import docstring_parser
import numpy as np

#: Exit status for bad input (as argparse uses for bad options).
EXIT_USAGE = 2
#: Exit status when training failed: it diverged, or another process of a data-parallel
#: (torchrun) run was lost.
EXIT_FAILURE = 1
#: Exit status after Ctrl-C (128 + SIGINT, as shells report it).
EXIT_INTERRUPTED = 130

EXIT_STATUS_HELP = (
    "exit status: 0 done; 2 bad input (nothing written); 1 training failed: it diverged, or "
    "a process of a torchrun run was lost (nothing written); 130 interrupted."
)


class CLIError(Exception):
    """Bad input found by the command line itself (one line, exit status 2)."""


_NUMPYDOC = docstring_parser.DocstringStyle.NUMPYDOC

#: Sphinx cross-reference roles (``:func:`torch.autocast```, ``:class:`~a.B```) in a docstring.
_ROLE = re.compile(r":[a-z]+:`~?([^`]+)`")


def plain_help(text: str) -> str:
    """Docstring text as a shell user reads it: no reST markup, no Python-only alternatives."""
    text = _ROLE.sub(lambda m: m.group(1), " ".join(text.split())).replace("``", "")
    text = re.sub(r",? or a torch\.device", "", text)  # a shell passes strings only
    return text.replace("%", "%%")  # argparse formats help with %


def _param_help(func: Callable) -> dict[str, str]:
    """First sentence of each parameter's description in a numpydoc docstring.

    The docstring is parsed by docstring_parser; an entry naming several parameters
    (``must_link, cannot_link``) gives each of them the sentence.
    """
    doc = docstring_parser.parse(inspect.getdoc(func) or "", style=_NUMPYDOC)
    helps: dict[str, str] = {}
    for param in doc.params:
        text = plain_help(param.description or "")
        sentence = re.split(r"(?<=\.)\s(?=[A-Z\"])", text, maxsplit=1)[0]
        for name in param.arg_name.split(","):
            helps[name.strip()] = sentence
    return helps


def _none_or(kind: type) -> Callable[[str], Any]:
    def parse(text: str):
        return None if text.lower() == "none" else kind(text)

    parse.__name__ = kind.__name__  # argparse names the type in its errors
    return parse


def _bool(text: str) -> bool:
    if text.lower() in ("true", "1", "yes"):
        return True
    if text.lower() in ("false", "0", "no"):
        return False
    raise argparse.ArgumentTypeError(f"expected true or false, found {text!r}")


def _scalar_type(annotation: Any) -> tuple[type, bool, bool]:
    """(scalar type, accepts None, is a sequence) of a config field annotation."""
    args = typing.get_args(annotation)
    origin = typing.get_origin(annotation)
    if origin in (typing.Union, types.UnionType):
        optional = type(None) in args
        rest = [a for a in args if a is not type(None)]
        kinds = [_scalar_type(a) for a in rest]
        sequence = any(k[2] for k in kinds)
        scalar = next((k[0] for k in kinds if k[0] in (bool, int, float)), str)
        return scalar, optional or any(k[1] for k in kinds), sequence
    if origin is tuple:
        return args[0], False, True
    return (annotation if annotation in (bool, int, float) else str), False, False


def _add_config_options(parser: argparse.ArgumentParser, config_class, tool: Callable) -> None:
    helps = _param_help(tool)
    hints = typing.get_type_hints(config_class)
    for f in dataclasses.fields(config_class):
        kind, optional, sequence = _scalar_type(hints[f.name])
        flag = "--seed" if f.name == "random_state" else "--" + f.name.replace("_", "-")
        extra = ["--random-state"] if f.name == "random_state" else []
        kind = _bool if kind is bool else kind
        parse = _none_or(kind) if optional else kind
        default = list(f.default) if isinstance(f.default, tuple) else f.default
        shown = " ".join(map(str, default)) if isinstance(default, list) else default
        parser.add_argument(
            flag,
            *extra,
            dest=f.name,
            type=parse,
            nargs="+" if sequence else None,
            default=default,
            metavar=f.name.upper(),
            help=f"{helps.get(f.name, '')} (default: {shown})".strip(),
        )


def _io_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("input", metavar="IN.h5ad", help="input AnnData file (.h5ad)")
    parser.add_argument("output", metavar="OUT.h5ad", help="output AnnData file (.h5ad)")
    parser.add_argument(
        "--force",
        action="store_true",
        help="overwrite OUT (and the --save-model folder) if they exist (default: refuse)",
    )
    parser.add_argument(
        "--no-progress",
        dest="progress_bar",
        action="store_false",
        default=None,
        help="no progress bars (default: shown when stderr is a terminal)",
    )


def _constraint_options(parser: argparse.ArgumentParser) -> None:
    group = parser.add_argument_group(
        "constraints",
        "prior knowledge as pairs of cells (scDCC): from files, or built by scdeepclust.pp",
    )
    group.add_argument(
        "--must-link",
        metavar="CSV",
        help="file of must-link pairs: two columns of obs names, one pair per line, "
        "an optional header line (default: none)",
    )
    group.add_argument(
        "--cannot-link",
        metavar="CSV",
        help="file of cannot-link pairs, in the same format (default: none)",
    )
    group.add_argument(
        "--constraints-from-labels",
        metavar="OBS_KEY",
        help="draw pairs among the cells with a label in this adata.obs column (empty = "
        "unknown): same label must-link, different labels cannot-link "
        "(scdeepclust.pp.constraints_from_labels; default: none)",
    )
    group.add_argument(
        "--constraints-from-rep",
        metavar="OBSM_KEY",
        help="draw pairs by distance in this adata.obsm representation, e.g. protein levels: "
        "close pairs must-link, distant ones cannot-link "
        "(scdeepclust.pp.constraints_from_rep; default: none)",
    )


def read_pairs(path: str, adata) -> np.ndarray:
    """Pairs of obs names from a two-column CSV (header line optional), n_pairs x 2 strings."""
    import pandas as pd

    try:
        table = pd.read_csv(path, header=None, dtype=str, keep_default_na=False)
    except (OSError, pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeDecodeError) as err:
        raise CLIError(f"cannot read {path} as a CSV file of cell pairs ({err}).") from err
    if table.shape[1] != 2:
        raise CLIError(
            f"{path} has {table.shape[1]} columns; a pairs file has two columns of obs names."
        )
    pairs = table.to_numpy()
    if len(pairs) and not np.isin(pairs[0], adata.obs_names).all():
        pairs = pairs[1:]  # a header line: its two values are not both obs names
    return pairs


def _constraints(args: argparse.Namespace, adata) -> dict[str, Any]:
    """The must_link / cannot_link arguments of fit from the constraint options."""
    from . import pp

    builders = [args.constraints_from_labels, args.constraints_from_rep]
    files = [args.must_link, args.cannot_link]
    if sum(x is not None for x in builders) + any(x is not None for x in files) > 1:
        raise CLIError(
            "give constraints one way: --must-link/--cannot-link files, "
            "--constraints-from-labels or --constraints-from-rep."
        )
    if args.constraints_from_labels is not None:
        ml, cl = pp.constraints_from_labels(adata, args.constraints_from_labels)
    elif args.constraints_from_rep is not None:
        ml, cl = pp.constraints_from_rep(adata, args.constraints_from_rep)
    else:
        ml, cl = (None if f is None else read_pairs(f, adata) for f in files)
    return {"must_link": ml, "cannot_link": cl}


def build_parser() -> argparse.ArgumentParser:
    """The argument parser of ``scdeepclust`` with its three subcommands."""
    from . import __version__, tl
    from .models import DESCConfig, SCDCCConfig

    parser = argparse.ArgumentParser(
        prog="scdeepclust",
        description="Deep embedded clustering of single-cell RNA-seq counts in .h5ad files.",
        epilog=EXIT_STATUS_HELP,
    )
    parser.add_argument("--version", action="version", version=f"scdeepclust {__version__}")
    parser.add_argument(
        "-v",
        "--verbose",
        action="count",
        default=0,
        help="log what each stage did (-v: info, -vv: debug; default: warnings only)",
    )
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for name, config_class, tool, summary in (
        ("scdcc", SCDCCConfig, tl.scdcc, "cluster with scDCC / scDeepCluster (ZINB autoencoder)"),
        ("desc", DESCConfig, tl.desc, "cluster with DESC (at one or several resolutions)"),
    ):
        first_line = (inspect.getdoc(tool) or "").split("\n")[0]
        p = sub.add_parser(name, help=summary, description=first_line, epilog=EXIT_STATUS_HELP)
        _io_options(p)
        p.add_argument(
            "--mask-var",
            default=None,
            metavar="COLUMN",
            help="boolean adata.var column of the genes to use, e.g. highly_variable "
            "(default: all genes)",
        )
        p.add_argument(
            "--save-model",
            default=None,
            metavar="DIR",
            help="save the trained model into this folder, for `scdeepclust predict` "
            "(default: not saved)",
        )
        if name == "scdcc":
            _constraint_options(p)
        _add_config_options(p, config_class, tool)
        p.set_defaults(run=_run_tool, tool=name)
    p = sub.add_parser(
        "predict",
        help="embed and cluster new cells with a saved model",
        description="Embed and cluster the cells of IN.h5ad with a model saved by "
        "`scdeepclust scdcc|desc --save-model DIR`; writes the same slots as the tool.",
        epilog=EXIT_STATUS_HELP,
    )
    p.add_argument("model", metavar="MODEL_DIR", help="folder of a saved model")
    _io_options(p)
    p.add_argument(
        "--device",
        default=None,
        help="device to run on: auto, cpu, cuda, cuda:1, mps (default: the saved one)",
    )
    p.set_defaults(run=_run_predict)
    return parser


def _check_paths(args: argparse.Namespace) -> None:
    src, dst = Path(args.input), Path(args.output)
    if not src.is_file():
        raise CLIError(f"input file {src} does not exist.")
    if dst.exists() and not args.force:
        raise CLIError(f"output file {dst} exists; pass --force to overwrite it.")
    if dst.resolve() == src.resolve():
        raise CLIError("OUT is the input file; write the results to a new file.")
    if not dst.parent.resolve().is_dir():
        raise CLIError(f"the folder of the output file, {dst.parent}, does not exist.")
    save = getattr(args, "save_model", None)
    if save and Path(save).exists() and not args.force:
        raise CLIError(f"model folder {save} exists; pass --force to overwrite it.")


def _read(path: str):
    import anndata as ad

    try:
        return ad.read_h5ad(path)
    except Exception as err:  # noqa: BLE001 - h5py/anndata raise many types for a bad file
        raise CLIError(f"cannot read {path} as an AnnData .h5ad file ({err}).") from err


def write_atomic(adata, path: str | os.PathLike) -> None:
    """Write ``adata`` to ``path`` through a temporary file in the same folder, then rename."""
    from ._atomic import atomic_write

    with atomic_write(path, suffix=".tmp.h5ad") as tmp:
        adata.write_h5ad(tmp)


def _config_values(args: argparse.Namespace, config_class) -> dict[str, Any]:
    values = {f.name: getattr(args, f.name) for f in dataclasses.fields(config_class)}
    for name, value in values.items():
        if isinstance(value, list) and None in value:
            values[name] = None
        elif isinstance(value, list):
            values[name] = value[0] if name == "resolution" and len(value) == 1 else tuple(value)
    return values


def _run_tool(args: argparse.Namespace) -> None:
    from .data.results import write
    from .models import DESC, SCDCC

    model_class = {"scdcc": SCDCC, "desc": DESC}[args.tool]
    _check_paths(args)
    model = model_class(**_config_values(args, model_class.config_class))
    adata = _read(args.input)
    inputs = _constraints(args, adata) if args.tool == "scdcc" else {}
    model.fit(adata, mask_var=args.mask_var, progress_bar=args.progress_bar, **inputs)
    if process_rank() != 0:  # data-parallel run: rank 0 writes the results
        return
    write(adata, False, model.results_)
    if args.save_model:
        model.save(args.save_model, overwrite=args.force)
    write_atomic(adata, args.output)
    _report(model, args.output)


def _run_predict(args: argparse.Namespace) -> None:
    from .models import load

    _check_paths(args)
    model = load(args.model, device=args.device)
    adata = _read(args.input)
    model.predict(adata)
    if process_rank() != 0:
        return
    write_atomic(adata, args.output)
    _report(model, args.output)


def _report(model, output: str) -> None:
    slots = ", ".join(f"obs[{k!r}], obsm['X_{k}'], obsm['{k}_q']" for k in model.keys)
    print(f"scdeepclust: wrote {output} ({slots})")


def process_rank() -> int:
    """Rank of this process under torchrun (0 otherwise): only rank 0 writes files."""
    from .module.distributed import process_rank

    return process_rank()


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; returns the exit status.

    0; 2 for bad input; 1 when training failed (diverged, or another process of a
    data-parallel run was lost); 130 when interrupted. Under
    ``torchrun`` every rank trains and rank 0 alone writes OUT and the model folder; an
    unexpected error is recorded for torchrun's failure summary.
    """
    from .module.distributed import launched_world_size

    if launched_world_size() > 1:
        from torch.distributed.elastic.multiprocessing.errors import record

        return record(_main)(argv)
    return _main(argv)


def _main(argv: Sequence[str] | None) -> int:
    from . import settings
    from .models import ModelFormatError
    from .module.distributed import PeerFailureError, finish
    from .module.engine import TrainingDivergedError

    parser = build_parser()
    args = parser.parse_args(argv)
    if args.verbose:
        settings.verbosity = min(1 + args.verbose, 3)  # 2: info, 3: debug
    try:
        args.run(args)
        finish()  # under torchrun: every rank leaves once rank 0 has written
    except (PeerFailureError, TrainingDivergedError) as err:
        _fail(parser, str(err))
        return EXIT_FAILURE
    except (CLIError, ModelFormatError) as err:
        return _fail(parser, str(err))
    except (KeyError, ValueError, TypeError, FileNotFoundError, FileExistsError) as err:
        return _fail(parser, str(err.args[0]) if err.args else repr(err))
    except KeyboardInterrupt:
        print("scdeepclust: interrupted; no output written.", file=sys.stderr)
        return EXIT_INTERRUPTED
    return 0


def _fail(parser: argparse.ArgumentParser, message: str) -> int:
    from .module.distributed import launched_world_size

    world = launched_world_size()
    where = f" (rank {process_rank()} of {world})" if world > 1 else ""
    print(f"{parser.prog}: error{where}: {' '.join(message.split())}", file=sys.stderr)
    return EXIT_USAGE


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
