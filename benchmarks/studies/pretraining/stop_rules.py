"""Where would each pretraining stopping rule stop? Replayed on traced loss curves.

python -m benchmarks.studies.pretraining.stop_rules --trace /tmp/trace
"""

from __future__ import annotations

import argparse
import glob
import math
import os

import numpy as np


def current_rule(loss, patience=10, min_delta=1e-3):
    """0.1 semantics: relative margin, ``best`` lowered on every small gain."""
    best, wait = math.inf, 0
    for e, v in enumerate(loss, 1):
        if not math.isfinite(best) or v < best - min_delta * abs(best):
            best, wait = v, 0
            continue
        best, wait = min(best, v), wait + 1
        if wait >= patience:
            return e
    return len(loss)


def keras_rule(loss, patience=10, min_delta=1e-3, relative=True):
    """Keras semantics: ``best`` moves only on an improvement larger than the margin."""
    best, wait = math.inf, 0
    for e, v in enumerate(loss, 1):
        margin = min_delta * abs(best) if relative and math.isfinite(best) else min_delta
        if not math.isfinite(best) or v < best - margin:
            best, wait = v, 0
            continue
        wait += 1
        if wait >= patience:
            return e
    return len(loss)


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--trace", default="/tmp/trace")
    a = p.parse_args()
    print(
        "file\tn_epochs\tcurrent\tkeras_rel1e-3_p10\tkeras_rel1e-4_p10\tkeras_rel1e-3_p20"
        "\tloss@10\tloss@40\tloss@150\trel_gain_per_epoch@40"
    )
    for path in sorted(glob.glob(os.path.join(a.trace, "*_s?.npz"))):
        loss = np.load(path)["loss"]
        gain = (loss[35] - loss[45]) / loss[40] / 10 if len(loss) > 45 else float("nan")
        print(
            f"{os.path.basename(path)}\t{len(loss)}\t{current_rule(loss)}"
            f"\t{keras_rule(loss)}\t{keras_rule(loss, min_delta=1e-4)}"
            f"\t{keras_rule(loss, patience=20)}\t{loss[9]:.4f}\t{loss[39]:.4f}\t{loss[-1]:.4f}"
            f"\t{gain:.2e}"
        )


if __name__ == "__main__":
    main()
