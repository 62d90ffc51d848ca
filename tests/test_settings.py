"""``sdc.settings.verbosity`` and when progress bars are shown."""

import io
import logging
import sys
import types

import pytest
from tqdm.notebook import tqdm as notebook_tqdm
from tqdm.std import tqdm as text_tqdm

import scdeepclust as sdc
from scdeepclust.module import utils


@pytest.mark.parametrize(
    ("value", "level", "verbosity"),
    [
        (0, logging.ERROR, 0),
        ("warning", logging.WARNING, 1),
        ("INFO", logging.INFO, 2),
        (3, logging.DEBUG, 3),
    ],
)
def test_verbosity_sets_the_package_logger(restore_logger, value, level, verbosity):
    sdc.settings.verbosity = value
    assert restore_logger.level == level
    assert sdc.settings.verbosity == verbosity


def test_info_messages_reach_stderr_once(restore_logger, monkeypatch):
    stream = io.StringIO()
    monkeypatch.setattr(sys, "stderr", stream)
    sdc.settings.verbosity = "info"
    sdc.settings.verbosity = "info"  # a second assignment adds no second handler
    sdc.settings._handler.setStream(stream)
    logging.getLogger("scdeepclust.pp._constraints").info("1,000 must-link pairs")
    assert stream.getvalue() == "scdeepclust.pp._constraints: 1,000 must-link pairs\n"
    sdc.settings.verbosity = 1
    logging.getLogger("scdeepclust").info("hidden")
    assert "hidden" not in stream.getvalue()


@pytest.mark.parametrize("value", [4, -1, "loud", True, 2.0, None])
def test_bad_verbosity_is_refused(restore_logger, value):
    before = restore_logger.level
    with pytest.raises(ValueError, match="verbosity must be 0, 1, 2 or 3"):
        sdc.settings.verbosity = value
    assert restore_logger.level == before


def _fake_jupyter(monkeypatch):
    shell = types.SimpleNamespace(kernel=object())
    monkeypatch.setitem(sys.modules, "IPython", types.SimpleNamespace(get_ipython=lambda: shell))


def test_progress_bars_default_on_in_jupyter(monkeypatch):
    monkeypatch.setattr(sys, "stderr", io.StringIO())  # not a terminal
    assert utils.show_progress(None) is False
    _fake_jupyter(monkeypatch)
    assert utils.show_progress(None) is True
    assert utils.show_progress(False) is False


def test_progress_bars_default_on_a_terminal(monkeypatch):
    tty = types.SimpleNamespace(isatty=lambda: True)
    monkeypatch.setattr(sys, "stderr", tty)
    assert utils.show_progress(None) is True
    assert utils.show_progress(True) is True


def test_widget_bar_in_jupyter_only_with_ipywidgets(monkeypatch):
    assert utils.progress_bar_class() is text_tqdm
    _fake_jupyter(monkeypatch)
    monkeypatch.setattr(utils.importlib.util, "find_spec", lambda name: object())
    assert utils.progress_bar_class() is notebook_tqdm
    monkeypatch.setattr(utils.importlib.util, "find_spec", lambda name: None)
    assert utils.progress_bar_class() is text_tqdm
