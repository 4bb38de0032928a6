"""Seeded 80/20 split of CamVid's 367 training frames into SPLIT/train and SPLIT/val, as symlinks (no copies).

The same seed gives the same held-out 20% every time, so the square and the rectangular recipe are scored on
the same frames. Usage: camvid_split.py CAMVID_DIR SPLIT_DIR [SEED]
"""

from __future__ import annotations

import sys
from pathlib import Path

from edgeunet.data.dataset import find_samples
from edgeunet.data.splits import split_samples


def main(source: Path, target: Path, seed: int) -> None:
    train, val, _ = split_samples(find_samples(source), 0.2, 0.0, seed)
    for name, samples in (("train", train), ("val", val)):
        for sub in ("images", "masks"):
            (target / name / sub).mkdir(parents=True, exist_ok=True)
        for sample in samples:
            assert sample.mask is not None
            for sub, path in (("images", sample.image), ("masks", sample.mask)):
                link = target / name / sub / path.name
                if not link.exists():
                    link.symlink_to(path.resolve())
    print(f"{target}: {len(train)} train, {len(val)} val (seed {seed})")


if __name__ == "__main__":
    main(Path(sys.argv[1]), Path(sys.argv[2]), int(sys.argv[3]) if len(sys.argv) > 3 else 0)
