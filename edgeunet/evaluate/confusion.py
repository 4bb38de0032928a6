"""The confusion matrix as a picture (`evaluate --confusion FILE.png`): which classes the model mixes up.

Rows are normalised to 1 (recall per true class), so a rare class reads as clearly as road or sky; the
counts stay in the JSON. matplotlib is imported only when a picture is asked for.
"""

from __future__ import annotations

from pathlib import Path
from typing import Sequence

import numpy as np

from edgeunet.core.atomic import atomic_path
from edgeunet.core.errors import EdgeUnetError


def write_confusion_png(path: Path, matrix: np.ndarray, class_names: Sequence[str], title: str = "") -> None:
    """Row-normalised confusion matrix (truth down, prediction across) written atomically as PNG."""
    if path.suffix.lower() != ".png":
        raise EdgeUnetError(f"--confusion {path}: give a .png file name")
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    counts = np.asarray(matrix, dtype=np.float64)
    rows = counts.sum(axis=1, keepdims=True)
    share = np.divide(counts, rows, out=np.zeros_like(counts), where=rows > 0)
    n = len(class_names)
    side = max(4.0, 0.55 * n + 2.0)
    fig, ax = plt.subplots(figsize=(side + 1.0, side))
    image = ax.imshow(share, cmap="Blues", vmin=0.0, vmax=1.0)
    ax.set_xticks(range(n), labels=list(class_names), rotation=60, ha="right")
    ax.set_yticks(range(n), labels=list(class_names))
    ax.set_xlabel("predicted")
    ax.set_ylabel("true")
    for i in range(n):
        for j in range(n):
            if share[i, j] >= 0.01:
                ax.text(j, i, f"{share[i, j]:.2f}", ha="center", va="center", fontsize=7, color="white" if share[i, j] > 0.5 else "black")
    fig.colorbar(image, ax=ax, fraction=0.046, pad=0.04, label="share of the true class")
    ax.set_title(title or "confusion (rows: true class)")
    fig.tight_layout()
    with atomic_path(path) as tmp:
        fig.savefig(str(tmp), format="png", dpi=110)
    plt.close(fig)
