"""Sphinx configuration of the scdeepclust documentation (cookiecutter-scverse conventions).

Build from the repository root with ``make docs``, i.e.
``sphinx-build -W --keep-going -b html docs docs/_build/html``.
"""

from __future__ import annotations

import shutil
import sys
from datetime import datetime
from importlib.metadata import metadata
from pathlib import Path

HERE = Path(__file__).parent
ROOT = HERE.parent
sys.path.insert(0, str(ROOT))

# -- Tutorials -------------------------------------------------------------------------------
# The notebooks live (executed, with their outputs) in the top-level ``tutorials/`` folder.
# They are copied on every build into ``docs/tutorials/generated/`` (git-ignored), together
# with any figure folder next to them, so that a new notebook appears in the site without any
# change here: ``tutorials/index.md`` lists ``generated/*`` with a glob.
TUTORIALS_SRC = ROOT / "tutorials"
TUTORIALS_DST = HERE / "tutorials" / "generated"


def _sync_tutorials(src: Path = TUTORIALS_SRC, dst: Path = TUTORIALS_DST) -> None:
    """Mirror ``tutorials/*.ipynb`` (and ``tutorials/figures/``) into ``dst``.

    Files are copied only when their content changed, so an unchanged notebook is not
    re-read by Sphinx; notebooks deleted from ``tutorials/`` are deleted from ``dst``.
    """
    dst.mkdir(parents=True, exist_ok=True)
    wanted = {p.name: p for p in sorted(src.glob("*.ipynb"))}
    for extra in ("figures",):
        if (src / extra).is_dir():
            for p in sorted((src / extra).rglob("*")):
                if p.is_file():
                    wanted[str(p.relative_to(src))] = p
    for rel, source in wanted.items():
        target = dst / rel
        if target.is_file() and target.read_bytes() == source.read_bytes():
            continue
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(source, target)
    for p in sorted(dst.rglob("*"), reverse=True):
        rel = str(p.relative_to(dst))
        if p.is_file() and rel not in wanted:
            p.unlink()
        elif p.is_dir() and not any(p.iterdir()):
            p.rmdir()


_sync_tutorials()

# -- Project information ---------------------------------------------------------------------
info = metadata("scdeepclust")
project = info["Name"]
author = "scdeepclust developers"
copyright = f"{datetime.now():%Y}, {author}"
version = info["Version"]
release = version

# -- General configuration -------------------------------------------------------------------
extensions = [
    "myst_nb",
    "sphinx_copybutton",
    "sphinx.ext.autodoc",
    "sphinx.ext.autosummary",
    "sphinx.ext.intersphinx",
    "sphinx.ext.mathjax",
    "numpydoc",
    "sphinxarg.ext",
]
templates_path = ["_templates"]
exclude_patterns = ["_build", "Thumbs.db", ".DS_Store", "**.ipynb_checkpoints"]
source_suffix = {".rst": "restructuredtext", ".ipynb": "myst-nb", ".md": "myst-nb"}
master_doc = "index"
default_role = "literal"
needs_sphinx = "7.3"

# autodoc / autosummary / numpydoc
autosummary_generate = True
autodoc_member_order = "bysource"
autodoc_typehints = "signature"
# One parameter per line in long signatures (tl.scdcc has 30 keyword parameters).
python_maximum_signature_line_length = 88
numpydoc_show_class_members = False
numpydoc_class_members_toctree = False
# Types live in the signatures (scanpy style), so the docstrings have no type fields to
# cross-reference; the Returns sections open with prose ("None, or a new AnnData if
# copy=True"), which numpydoc would otherwise split into one broken reference per word.
numpydoc_xref_param_type = False

# myst / myst-nb: the notebooks are stored executed and are never run here.
nb_execution_mode = "off"
nb_merge_streams = True
myst_enable_extensions = ["amsmath", "colon_fence", "deflist", "dollarmath", "html_image"]
myst_heading_anchors = 3

# intersphinx. The inventories are fetched from the web; where the build machine has no
# network (only a package index), the second location of each entry, an empty local
# inventory, is used instead, so the build is the same (external names render as plain
# text) and does not warn. Sphinx reports a failed first location only as information when
# a later location works.
_OFFLINE_INV = str(HERE / "_intersphinx" / "offline.inv")
intersphinx_mapping = {
    name: (url, (None, _OFFLINE_INV))
    for name, url in {
        "python": "https://docs.python.org/3/",
        "numpy": "https://numpy.org/doc/stable/",
        "scipy": "https://docs.scipy.org/doc/scipy/",
        "pandas": "https://pandas.pydata.org/docs/",
        "anndata": "https://anndata.readthedocs.io/en/stable/",
        "scanpy": "https://scanpy.readthedocs.io/en/stable/",
        "torch": "https://docs.pytorch.org/docs/stable/",
    }.items()
}
intersphinx_timeout = 10

# -- HTML output -----------------------------------------------------------------------------
html_theme = "sphinx_book_theme"
html_title = "scdeepclust"
html_static_path = ["_static"]
html_css_files = ["css/custom.css"]
html_show_sphinx = False
html_theme_options = {
    "use_download_button": True,
    "navigation_with_keys": False,
    "show_toc_level": 2,
    # sphinx-book-theme has no top navbar; pydata-sphinx-theme >= 0.16 would otherwise add
    # one holding only a second search button.
    "navbar_persistent": [],
}
pygments_style = "default"
copybutton_prompt_text = r">>> |\.\.\. |\$ "
copybutton_prompt_is_regexp = True

# The sphinx-argparse page documents ``scdeepclust.cli:build_parser``.
