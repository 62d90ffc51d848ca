"""``pl.training_history``: the loss terms per epoch of each training stage."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from anndata import AnnData


def training_history(
    adata: AnnData,
    key: str = "scdcc",
    *,
    stages: Sequence[str] | None = None,
    log_scale: bool = False,
    show: bool | None = None,
    save: str | None = None,
    ax=None,
):
    """Plot the loss terms per epoch of each stage of a run, from ``uns[key]['history']``.

    One panel per stage (``pretrain``, ``cluster``), one line per loss term (e.g. ``zinb``,
    ``kl``, ``must_link`` and their sum ``loss`` for scDCC; for DESC the pretraining terms are
    named per phase, ``layerwise_<i>_mse`` and ``end_to_end_mse``). Use it to see whether
    pretraining had flattened and what the clustering stage did, next to
    ``uns[key]['label_change']`` and ``uns[key]['stopped_by']``.

    Parameters
    ----------
    adata
        AnnData with the ``uns[key]`` record of :func:`scdeepclust.tl.scdcc` or
        :func:`scdeepclust.tl.desc`.
    key
        Output key of the run.
    stages
        Stages to plot; None: all stages in the record.
    log_scale
        Logarithmic loss axis (only for positive terms).
    show
        Show the figure (None: when no ``ax`` was passed and not saving, as scanpy does).
    save
        File name to save the figure to (any matplotlib format), or None.
    ax
        A matplotlib axes, or a sequence with one axes per stage, to draw into.

    Returns
    -------
    list of matplotlib.axes.Axes or None
        The axes, one per stage; None when the figure was shown, as scanpy's plots do.

    Raises
    ------
    KeyError
        If ``uns[key]`` or its ``history`` is missing, or a requested stage is not in it.
    """
    import matplotlib.pyplot as plt

    if key not in adata.uns or "history" not in adata.uns[key]:
        raise KeyError(
            f"adata.uns[{key!r}]['history'] not found; run scdeepclust.tl.scdcc / tl.desc "
            f"with key_added={key!r} first (predict writes no training history)."
        )
    history = adata.uns[key]["history"]
    names = list(history) if stages is None else list(stages)
    missing = [s for s in names if s not in history]
    if missing:
        raise KeyError(f"stages {missing} not in uns[{key!r}]['history'] ({list(history)}).")
    if ax is None:
        fig, axes = plt.subplots(1, len(names), figsize=(4.5 * len(names), 3.5), squeeze=False)
        axes = list(axes[0])
    else:
        axes = list(ax) if isinstance(ax, Sequence | np.ndarray) else [ax]
        fig = axes[0].figure
        if len(axes) != len(names):
            raise ValueError(f"ax holds {len(axes)} axes for {len(names)} stages.")
    for axis, stage in zip(axes, names, strict=True):
        for term, values in history[stage].items():
            values = np.asarray(values, dtype=float)
            epochs = np.arange(1, len(values) + 1)
            axis.plot(epochs, values, label=term, lw=2 if term == "loss" else 1)
        axis.set_title(f"{key}: {stage}")
        axis.set_xlabel("epoch")
        axis.set_ylabel("loss (mean per minibatch)")
        if log_scale:
            axis.set_yscale("log")
        axis.legend(fontsize="small")
    fig.tight_layout()
    if save:
        fig.savefig(save, dpi=120, bbox_inches="tight")
    if show or (show is None and ax is None and not save):
        plt.show()
        return None
    return axes
