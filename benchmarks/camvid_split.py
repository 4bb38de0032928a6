"""CamVid's 367 training frames split into SPLIT/train and SPLIT/val as symlinks (no copies), by the split training uses.

Default: the split `edgeunet train` would make (data/splits.py, --split-by auto): by sequence on CamVid, so
validation frames have no near-twin in training, and the seeded random split, unchanged, on ISBI; `--val-groups 0006R0`
holds out a named sequence (leave-one-sequence-out), `--split-by random` gives the seeded 80/20 split of earlier
results (issue 13), kept only to state the size of its leak. The same arguments give the same folders every time.
Usage: camvid_split.py CAMVID_DIR SPLIT_DIR [SEED] [--split-by auto|sequence|random] [--val-groups NAME[,NAME]]
"""

from __future__ import annotations

import argparse
import shutil
from pathlib import Path

from edgeunet.data.dataset import find_samples
from edgeunet.data.splits import make_split


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("source", type=Path)
    parser.add_argument("target", type=Path)
    parser.add_argument("seed", type=int, nargs="?", default=0)
    parser.add_argument("--split-by", choices=["auto", "sequence", "random"], default="auto")
    parser.add_argument("--val-groups", default=None)
    parser.add_argument("--val-ratio", type=float, default=0.2)
    args = parser.parse_args()
    groups = args.val_groups.split(",") if args.val_groups else None
    split = make_split(find_samples(args.source), args.val_ratio, args.seed, args.split_by, val_groups=groups)
    if args.target.exists():  # a folder left by another split would mix two divisions: start clean
        if any(p.is_file() and not p.is_symlink() for p in args.target.rglob("*")):
            raise SystemExit(f"{args.target} holds real files, not a split of symlinks; choose another SPLIT_DIR")
        shutil.rmtree(args.target)
    for name, samples in (("train", split.train), ("val", split.val)):
        for sub in ("images", "masks"):
            (args.target / name / sub).mkdir(parents=True)
        for sample in samples:
            assert sample.mask is not None
            for sub, path in (("images", sample.image), ("masks", sample.mask)):
                (args.target / name / sub / path.name).symlink_to(path.resolve())
    print(f"{args.target}: {split.describe()} (seed {args.seed})")


if __name__ == "__main__":
    main()
