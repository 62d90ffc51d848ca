"""What every tutorial needs to run both as a script and as a notebook.

The tutorials import it from their own folder (``from _tutorial import output_dir, show``),
which is the working directory of a notebook and on ``sys.path`` of a script.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path


def output_dir(description: str, default: str = "results") -> Path:
    """The folder given by ``--outdir`` (else ``default``), created if missing.

    Unknown arguments are ignored, such as those a notebook kernel is started with.
    """
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument("--outdir", default=default, help="folder for the files it writes")
    args, _ = parser.parse_known_args()
    outdir = Path(args.outdir)
    outdir.mkdir(parents=True, exist_ok=True)
    return outdir


def save_figure(fig, png: Path, dpi: int = 100) -> None:
    """Write ``fig`` to ``png``, close it, and display the file when running as a notebook."""
    import matplotlib.pyplot as plt

    fig.savefig(png, dpi=dpi, bbox_inches="tight")
    plt.close(fig)
    show(png)
    print("wrote", png)


def show(png: Path) -> None:
    """Display a saved figure when running as a notebook."""
    if "ipykernel" in sys.modules:
        from IPython.display import Image, display

        display(Image(filename=str(png)))
