"""What a run is made of, built from its TrainConfig: the ModelSpec, the data split, optimiser and scheduler."""

from __future__ import annotations

import os
from typing import Any, Callable, List, Optional, Sequence, Tuple

import torch

from edgeunet.core.errors import EdgeUnetError
from edgeunet.core.spec import ModelSpec
from edgeunet.data.dataset import Sample, apply_ignore_index, dataset_channels, default_mask_values, find_samples, parse_mask_map
from edgeunet.data.leakage import near_duplicates
from edgeunet.data.splits import make_split
from edgeunet.train.config import TrainConfig


def _class_names(cfg: TrainConfig) -> List[str]:
    """Names of the classes the model predicts; a name given for the ignored class is dropped."""
    if cfg.class_names:
        names = list(cfg.class_names)
        if cfg.ignore_index is not None and len(names) == cfg.classes:
            del names[cfg.ignore_index]
        return names
    if cfg.real_classes == 2:
        return ["background", "foreground"]
    return ["background"] + [f"class_{i}" for i in range(1, cfg.real_classes)]


def build_spec(cfg: TrainConfig, train_samples: Sequence[Sample]) -> ModelSpec:
    mask_values = parse_mask_map(cfg.mask_map) if cfg.mask_map else default_mask_values(cfg.classes, cfg.positive_value)
    num_classes = cfg.classes
    if cfg.ignore_index is not None:
        mask_values, num_classes = apply_ignore_index(mask_values, cfg.ignore_index, cfg.classes)
    channels = dataset_channels(train_samples)
    return ModelSpec(
        in_channels=channels,
        num_classes=num_classes,
        class_names=_class_names(cfg),
        input_size=cfg.input_size(),
        channel_order="gray" if channels == 1 else "rgb",
        mean=[0.5] * channels,
        std=[0.25] * channels,
        mask_values=mask_values,
        ignore_index=cfg.ignore_index,
        resize="native" if cfg.crop is not None else cfg.resize,
        size_multiple=2**cfg.depth,
    )


def split_data(cfg: TrainConfig, log: Optional[Callable[[str], None]] = None) -> Tuple[List[Sample], List[Sample]]:
    """Training and validation samples (data/splits.py decides), the split said in one line, then the leak check.

    The resolved split (mode, validation sequences, images per sequence) is written back into `cfg`, so config.json,
    the checkpoint and a resumed or QAT run all hold the same division, and export records it for the gate.
    """
    if log is None:
        log = _main_process_print
    samples = find_samples(cfg.data)
    if cfg.val_data:
        train, val = samples, find_samples(cfg.val_data)
        log(f"validating on --val-data {cfg.val_data} ({len(val)} images), training on {len(train)}")
    else:
        if cfg.val_ratio <= 0 and not cfg.val_groups:
            raise EdgeUnetError("--val-ratio 0 leaves nothing to validate on; give --val-data DIR or a ratio such as 0.2")
        split = make_split(samples, cfg.val_ratio, cfg.seed, cfg.split_by, cfg.group_regex, cfg.val_groups)
        cfg.split_by = split.mode
        if split.mode == "sequence":
            cfg.val_groups, cfg.sequences = split.val_groups, split.groups
        log(split.describe())
        train, val = split.train, split.val
    leak = near_duplicates([s.image for s in train], [s.image for s in val])
    if leak.pairs:
        log(leak.line())
    return train, val


def _main_process_print(line: str) -> None:
    """print, once per run: under torchrun only rank 0 speaks."""
    if os.environ.get("RANK", "0") == "0":
        print(line, flush=True)


def build_optimizer(cfg: TrainConfig, model: torch.nn.Module) -> torch.optim.Optimizer:
    if cfg.optimizer == "adam":
        return torch.optim.Adam(model.parameters(), lr=cfg.lr, weight_decay=cfg.weight_decay)
    if cfg.optimizer == "adamw":
        return torch.optim.AdamW(model.parameters(), lr=cfg.lr, weight_decay=cfg.weight_decay)
    if cfg.optimizer == "sgd":
        return torch.optim.SGD(model.parameters(), lr=cfg.lr, momentum=0.9, nesterov=True, weight_decay=cfg.weight_decay)
    raise EdgeUnetError(f"--optimizer {cfg.optimizer}: choose adam, adamw or sgd")


def build_scheduler(cfg: TrainConfig, optimizer: torch.optim.Optimizer) -> Optional[Any]:
    if cfg.scheduler == "cosine":
        return torch.optim.lr_scheduler.CosineAnnealingLR(optimizer, T_max=cfg.epochs, eta_min=cfg.lr * 0.01)
    if cfg.scheduler == "plateau":
        return torch.optim.lr_scheduler.ReduceLROnPlateau(optimizer, mode="max", factor=0.5, patience=max(2, cfg.patience // 3))
    if cfg.scheduler == "none":
        return None
    raise EdgeUnetError(f"--scheduler {cfg.scheduler}: choose cosine, plateau or none")
