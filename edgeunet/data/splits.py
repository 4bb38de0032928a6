"""Which images validate a run and which may calibrate it: the split, its record, and the seeded calibration sampler.

One module decides the split (train), writes its record (config.json, the checkpoint, the ONNX metadata
`edgeunet.val_split`) and reads it back (accuracy gate, calibration exclusions, bench --val-split, QAT), so the
images a model is judged on cannot drift from one stage to the next.

Why groups: frames of one video are near-twins. A random split puts a neighbour of most validation frames into
training, and every choice made on that score (recipe, best checkpoint, INT8 gate) inherits the optimism (CamVid:
0.505 mIoU on a random split, 0.424 on sequences never seen). Files named like frames of several sequences
(`0001TP_006690.png`: the name before the frame number) are therefore split by sequence, each sequence whole on
one side; other data keeps the seeded random split it always had.

Why one sampler for every calibration path (ONNX Runtime Q/DQ and TensorRT's calibrators): two samplers picked
different images for the same --seed and wrote different manifests.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Dict, List, Optional, Sequence, Tuple, TypeVar

import numpy as np

from edgeunet.core.atomic import sha256_file
from edgeunet.core.errors import EdgeUnetError
from edgeunet.data.dataset import Sample, find_samples

T = TypeVar("T")

SPLIT_MODES = ("auto", "sequence", "random")
# The name before the frame number: everything before the last separator when a (letter-prefixed) number follows
# it, or the letters right before a trailing number. CamVid's `0001TP_006690`, `0006R0_f00930`, `0016E5_00390` ->
# 0001TP, 0006R0, 0016E5; `frame0042` -> frame, `clip-a.17` -> clip-a; `17` and `00042` have none.
DEFAULT_GROUP_REGEX = r"^(?P<group>.+?)(?:[_\-. ]+[A-Za-z]*|(?<=[A-Za-z]))\d+$"
# Frame sequences need at least two named groups of at least this many frames each. One group (`img_0001` ...
# `img_0500`, the demo's `sample_000`) is a naming scheme, not several scenes, and keeps the random split.
MIN_SEQUENCE_FRAMES = 2
DRAWS = 32


def compile_group_regex(text: Optional[str]) -> "re.Pattern[str]":
    """The --group-regex (matched against the file stem), or the default frame-name pattern."""
    try:
        return re.compile(text or DEFAULT_GROUP_REGEX)
    except re.error as exc:
        raise EdgeUnetError(f"--group-regex {text!r}: not a regular expression ({exc})") from None


def group_of(stem: str, pattern: "re.Pattern[str]") -> Optional[str]:
    """The sequence a file belongs to: the regex's `group` (or first) capture, or its whole match; None if no match."""
    match = pattern.search(stem)
    if match is None:
        return None
    if "group" in pattern.groupindex:
        return match.group("group")
    return match.group(1) if pattern.groups else match.group(0)


def find_groups(samples: Sequence[Sample], group_regex: Optional[str] = None) -> Dict[str, List[Sample]]:
    """Sequence name -> its samples, in file order; a file whose name names no sequence is a group of its own."""
    pattern = compile_group_regex(group_regex)
    groups: Dict[str, List[Sample]] = {}
    for sample in samples:
        groups.setdefault(group_of(sample.stem, pattern) or sample.stem, []).append(sample)
    return groups


def has_sequences(groups: Dict[str, List[Sample]]) -> bool:
    """Several named sequences of several frames each (what makes a random split leak)."""
    return sum(len(members) >= MIN_SEQUENCE_FRAMES for members in groups.values()) >= 2


def group_summary(counts: Dict[str, int]) -> str:
    """'0001TP 62, 0006R0 101, 0016E5 204' (images per sequence; long lists cut after eight)."""
    return _names([f"{name} {count}" for name, count in counts.items()])


@dataclass
class Split:
    """A run's train/validation division and how it was made (mode 'sequence' or 'random')."""

    train: List[Sample]
    val: List[Sample]
    mode: str
    auto: bool = False
    groups: Dict[str, int] = field(default_factory=dict)  # sequence -> images (sequence mode)
    val_groups: List[str] = field(default_factory=list)

    def describe(self) -> str:
        """One line for the start of training and `data check`."""
        if self.mode == "random":
            return f"random split: training on {len(self.train)} images, validating on {len(self.val)}"
        found = "frame sequences found by name" if self.auto else "split by sequence"
        line = (f"{found} ({len(self.groups)}: {group_summary(self.groups)}): "
                f"validating on {_names(self.val_groups)} ({len(self.val)} images), training on the rest ({len(self.train)})")
        return line + ("; --split-by random to override" if self.auto else "")


def _names(names: Sequence[str]) -> str:
    return ", ".join(names[:8]) + (f", ... ({len(names)} in all)" if len(names) > 8 else "")


def split_samples(
    samples: Sequence[T], val_ratio: float, test_ratio: float = 0.0, seed: int = 0
) -> Tuple[List[T], List[T], List[T]]:
    """Deterministic shuffle with `seed`, then train / val / test by ratio (val and test get at least one each)."""
    if not 0 <= val_ratio < 1 or not 0 <= test_ratio < 1 or val_ratio + test_ratio >= 1:
        raise EdgeUnetError(f"split ratios val={val_ratio} test={test_ratio} must be in [0, 1) and sum below 1")
    order = np.random.default_rng(seed).permutation(len(samples))
    shuffled = [samples[i] for i in order]
    n_val = max(1, round(len(samples) * val_ratio)) if val_ratio > 0 else 0
    n_test = max(1, round(len(samples) * test_ratio)) if test_ratio > 0 else 0
    if len(samples) - n_val - n_test < 1:
        raise EdgeUnetError(f"only {len(samples)} labelled image(s): too few to split into train/val; add images or use --val-data")
    return shuffled[n_val + n_test :], shuffled[:n_val], shuffled[n_val : n_val + n_test]


def make_split(
    samples: Sequence[Sample], val_ratio: float, seed: int = 0, split_by: str = "auto",
    group_regex: Optional[str] = None, val_groups: Optional[Sequence[str]] = None,
) -> Split:
    """Train/validation division of `samples`.

    'auto' is 'sequence' when the file names hold several frame sequences (or --group-regex/--val-groups are
    given), else 'random'. In sequence mode `val_ratio` is a share of the sequences (at least one, never all),
    chosen with `seed` (see _choose_groups) unless `val_groups` names them. 'random' is the seeded image shuffle, unchanged.
    """
    if split_by not in SPLIT_MODES:
        raise EdgeUnetError(f"--split-by {split_by}: choose {', '.join(SPLIT_MODES)}")
    groups = find_groups(samples, group_regex)
    wants_groups = bool(group_regex or val_groups)
    if split_by == "random" or (split_by == "auto" and not wants_groups and not has_sequences(groups)):
        train, val, _ = split_samples(list(samples), val_ratio, 0.0, seed)
        return Split(train, val, "random")
    if len(groups) < 2:
        raise EdgeUnetError(
            f"--split-by sequence: every file name gives the same sequence ({next(iter(groups))!r}); "
            "give --group-regex (its first group names the sequence), --val-data DIR, or --split-by random"
        )
    chosen = _choose_groups(groups, val_ratio, seed, val_groups)
    train = [s for name, members in groups.items() if name not in chosen for s in members]
    val = [s for name, members in groups.items() if name in chosen for s in members]
    return Split(train, val, "sequence", auto=split_by == "auto", groups={k: len(v) for k, v in groups.items()},
                 val_groups=[name for name in groups if name in chosen])


def _choose_groups(groups: Dict[str, List[Sample]], val_ratio: float, seed: int, val_groups: Optional[Sequence[str]]) -> set:
    """The validation sequences: the named ones (checked), else round(val_ratio x sequences) of them, chosen with `seed`.

    Which ones: of DRAWS seeded draws, the one whose image count is nearest `val_ratio` of the images. Why: sequences
    differ in length (CamVid 62/101/204), and one plain draw could hold out over half of the images.
    """
    names = list(groups)
    if val_groups:
        unknown = [name for name in val_groups if name not in groups]
        if unknown:
            raise EdgeUnetError(f"--val-groups {unknown[0]}: no such sequence; found {_names(names)}")
        if len(set(val_groups)) >= len(names):
            raise EdgeUnetError("--val-groups names every sequence; leave at least one for training")
        return set(val_groups)
    if not 0 < val_ratio < 1:
        raise EdgeUnetError(f"--val-ratio {val_ratio}: a split by sequence needs a share in (0, 1), e.g. 0.2")
    count = min(len(names) - 1, max(1, round(len(names) * val_ratio)))
    sizes = np.array([len(groups[name]) for name in names])
    target = val_ratio * sizes.sum()
    rng = np.random.default_rng(seed)
    draws = [rng.permutation(len(names))[:count] for _ in range(DRAWS)]
    best = min(draws, key=lambda draw: abs(sizes[draw].sum() - target))  # min keeps the first of equals
    return {names[i] for i in best}


def split_record(checkpoint: Path, config: Dict[str, Any]) -> Dict[str, Any]:
    """How a run chose its validation images, with its data folders resolved: export writes it into the ONNX.

    A config from before splits had modes (no `split_by`) was split at random, and is read back that way.
    """
    return {
        "val_ratio": config.get("val_ratio"),
        "seed": config.get("seed"),
        "split_by": config.get("split_by") or "random",
        "group_regex": config.get("group_regex"),
        "val_groups": config.get("val_groups"),
        **training_paths(checkpoint, config),
    }


def recorded_validation(record: Dict[str, Any]) -> Optional[Tuple[List[Sample], str]]:
    """The validation images a split record names, with a description; None when they cannot be found.

    The record comes from a file a user received: each field is checked before it steers anything.
    """
    val_data, data = record.get("val_data"), record.get("data")
    if isinstance(val_data, str) and Path(val_data).is_dir():
        return find_samples(val_data), val_data
    ratio, groups = record.get("val_ratio"), record.get("val_groups")
    if not (isinstance(data, str) and Path(data).is_dir()) or not (ratio or groups):
        return None
    split_by, regex = record.get("split_by") or "random", record.get("group_regex")
    if split_by not in SPLIT_MODES or not isinstance(regex, (str, type(None))):
        raise EdgeUnetError(f"recorded validation split: split_by {split_by!r} / group_regex {regex!r} are not valid; pass --val-data DIR")
    if groups is not None and not (isinstance(groups, list) and all(isinstance(g, str) for g in groups)):
        raise EdgeUnetError("recorded validation split: val_groups is not a list of names; pass --val-data DIR")
    seed = int(record.get("seed") or 0)
    split = make_split(find_samples(data), float(ratio or 0.0), seed, split_by, regex, groups)
    if split.mode == "sequence":
        return split.val, f"sequence(s) {_names(split.val_groups)} of {data}"
    return split.val, f"validation split of {data} (ratio {ratio}, seed {seed})"


def sample_images(data: Path, num_images: int, seed: int = 0, exclude: Sequence[Path] = ()) -> List[Path]:
    """`num_images` image files from DATA (or DATA/images), drawn with `seed`, minus `exclude`, in file order.

    `exclude` is the validation set (whole sequences when the run was split by sequence), so calibration draws
    from the training sequences only.
    """
    if num_images < 1:
        raise EdgeUnetError(f"--num-images {num_images}: use at least 1 (64-500 is typical)")
    samples = find_samples(data, require_masks=False)
    paths = [s.image for s in samples if not _is_excluded(s.image, exclude)]
    if not paths:
        raise EdgeUnetError(f"--data {data}: every image is also a validation image; calibrate on training images instead")
    rng = np.random.default_rng(seed)
    count = min(num_images, len(paths))
    chosen = sorted(rng.choice(len(paths), size=count, replace=False).tolist())
    return [paths[i] for i in chosen]


def _is_excluded(path: Path, exclude: Sequence[Path]) -> bool:
    """Same file, or a copy of it (same size, then same sha256): a copied validation image is still one."""
    size = path.stat().st_size
    for other in exclude:
        other = Path(other)
        if path.resolve() == other.resolve():
            return True
        if other.is_file() and other.stat().st_size == size and sha256_file(other) == sha256_file(path):
            return True
    return False


def training_paths(checkpoint: Path, config: Dict[str, Any]) -> Dict[str, Optional[str]]:
    """The run's data folders as absolute paths, when they can still be found.

    Training stores paths as typed (often relative to where `edgeunet train` ran). That folder is
    recovered from the run folder: CHECKPOINT is RUN/best.pt and RUN was given as `out`.
    """
    bases = [Path.cwd()]
    out = config.get("out")
    run_dir = checkpoint.resolve().parent
    if out and not Path(out).is_absolute() and run_dir.parts[-len(Path(out).parts):] == Path(out).parts:
        bases.insert(0, run_dir.parents[len(Path(out).parts) - 1])
    found: Dict[str, Optional[str]] = {}
    for key in ("data", "val_data"):
        value = config.get(key)
        found[key] = None
        if value:
            for base in bases:
                candidate = (base / value).resolve()
                if candidate.is_dir():
                    found[key] = str(candidate)
                    break
    return found
