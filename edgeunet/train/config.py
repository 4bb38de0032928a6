"""Settings as dataclasses, and YAML/JSON config files whose keys are the CLI option names."""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path
from typing import Any, Dict, List, Optional

from edgeunet.core.errors import EdgeUnetError
from edgeunet.core.spec import RESIZE_MODES, parse_size
from edgeunet.data.augment import AugmentConfig
from edgeunet.data.splits import SPLIT_MODES, compile_group_regex


@dataclass
class TrainConfig:
    data: str = ""
    val_data: Optional[str] = None
    val_ratio: float = 0.2  # a share of the images (random split) or of the sequences (split by sequence)
    split_by: str = "auto"  # auto | sequence | random (data/splits.py); config.json holds the one it resolved to
    group_regex: Optional[str] = None  # names a file's sequence from its stem (default: the name before the frame number)
    val_groups: Optional[List[str]] = None  # the validation sequences: given, or recorded when chosen by seed
    sequences: Optional[Dict[str, int]] = None  # recorded, not an option: images per sequence found
    seed: int = 0
    epochs: int = 50
    batch_size: int = 4
    lr: float = 1e-3
    optimizer: str = "adamw"
    weight_decay: float = 1e-4
    loss: str = "dice_ce"
    alpha: float = 0.5
    width: int = 32
    depth: int = 4
    upsampling: str = "transpose"
    size: Any = 256  # 256 (square) or "352x480" (height x width)
    resize: str = "stretch"  # stretch | letterbox
    crop: Optional[Any] = None  # 256 or "256x320": train on random crops at native resolution, validate on whole images
    ignore_index: Optional[int] = None
    class_weights: Optional[Any] = None  # None, "auto" (median frequency) or a list of floats, one per real class
    classes: int = 2
    class_names: Optional[List[str]] = None
    positive_value: Optional[int] = None
    mask_map: Optional[str] = None
    device: str = "auto"
    amp: bool = False
    out: str = "runs/train"
    patience: int = 15
    monitor: str = "dice"
    scheduler: str = "cosine"
    workers: int = 0
    augment: bool = True
    augmentation: AugmentConfig = field(default_factory=AugmentConfig)
    snapshot_samples: int = 4
    tensorboard: bool = False
    ema: bool = False
    ema_decay: float = 0.999
    qat_from: Optional[str] = None  # quantization-aware fine-tuning of this fp32 checkpoint (train/qat.py)

    def to_dict(self) -> Dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: Dict[str, Any]) -> "TrainConfig":
        values = dict(data)
        values.setdefault("split_by", "random")  # a run from before split modes was split at random: resume it so
        if isinstance(values.get("val_groups"), str):  # --val-groups A,B (or one string in a config file)
            values["val_groups"] = [name.strip() for name in values["val_groups"].split(",") if name.strip()] or None
        aug = values.pop("augmentation", None) or {}
        known = {f.name for f in fields(cls)}
        cfg = cls(**{k: v for k, v in values.items() if k in known})
        cfg.augmentation = AugmentConfig(**{k: v for k, v in aug.items() if k in AugmentConfig.__dataclass_fields__})
        return cfg

    def validate(self) -> None:
        checks = [
            (self.epochs >= 1, f"--epochs {self.epochs} must be at least 1"),
            (self.batch_size >= 1, f"--batch-size {self.batch_size} must be at least 1"),
            (self.lr > 0, f"--lr {self.lr} must be positive"),
            (self.width >= 4, f"--width {self.width} must be at least 4 (16 and 32 are the edge presets)"),
            (1 <= self.depth <= 6, f"--depth {self.depth} must be 1..6"),
            (self.classes >= 2, f"--classes {self.classes} must be at least 2 (2 = binary)"),
            (self.resize in RESIZE_MODES, f"--resize {self.resize}: choose {' or '.join(RESIZE_MODES)}"),
            (0 < self.ema_decay < 1, f"--ema-decay {self.ema_decay} must be within (0, 1), e.g. 0.999"),
            (0 <= self.alpha <= 1, f"--alpha {self.alpha} must be within 0..1"),
            (0 <= self.val_ratio < 1, f"--val-ratio {self.val_ratio} must be within [0, 1)"),
            (self.split_by in SPLIT_MODES, f"--split-by {self.split_by}: choose {', '.join(SPLIT_MODES)}"),
            (self.patience >= 0, f"--patience {self.patience} must be 0 (off) or more"),
            (self.workers >= 0, f"--workers {self.workers} must be 0 or more"),
            (self.snapshot_samples >= 0, f"--snapshot-samples {self.snapshot_samples} must be 0 or more"),
        ]
        if self.qat_from is not None:
            checks.append((not self.ema, "--qat with --ema: fine-tune without the moving average (its copy would lose the quantizers)"))
        for ok, message in checks:
            if not ok:
                raise EdgeUnetError(message)
        if self.val_data and (self.val_groups or self.group_regex):
            raise EdgeUnetError("--val-data is the validation set; --val-groups/--group-regex split --data instead, give one or the other")
        compile_group_regex(self.group_regex)
        self.input_size()
        if self.crop is not None:
            parse_size(self.crop, "--crop", 2**self.depth)
        if self.ignore_index is not None and not 0 <= self.ignore_index < self.classes:
            raise EdgeUnetError(f"--ignore-index {self.ignore_index} must be one of the class ids 0..{self.classes - 1} (e.g. CamVid's void: 11)")
        if self.ignore_index is not None and self.classes < 3:
            raise EdgeUnetError(f"--ignore-index with --classes {self.classes} leaves fewer than 2 real classes; count void in --classes")
        allowed = {self.classes} if self.ignore_index is None else {self.classes, self.real_classes}
        if self.class_names is not None and len(self.class_names) not in allowed:
            raise EdgeUnetError(f"--class-names gives {len(self.class_names)} names for {self.real_classes} classes")

    @property
    def real_classes(self) -> int:
        """The classes the model predicts: --classes without the ignored one."""
        return self.classes - (1 if self.ignore_index is not None else 0)

    def input_size(self) -> List[int]:
        """[height, width] of the model input from --size (256 or 352x480), or of the training crop, checked."""
        if self.crop is not None:
            return list(parse_size(self.crop, "--crop", 2**self.depth))
        return list(parse_size(self.size, "--size", 2**self.depth))


def load_config_file(path: Path | str, allowed: List[str]) -> Dict[str, Any]:
    """A YAML or JSON mapping whose keys are option names (dashes or underscores)."""
    path = Path(path)
    if not path.is_file():
        raise EdgeUnetError(f"--config {path}: no such file")
    text = path.read_text(encoding="utf-8", errors="replace")
    try:
        if path.suffix.lower() == ".json":
            data = json.loads(text)
        else:
            import yaml

            data = yaml.safe_load(text)
    except Exception as exc:  # noqa: BLE001 - any parser error is the user's file, reported in one line
        first = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise EdgeUnetError(f"--config {path}: cannot parse ({first})") from None
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise EdgeUnetError(f"--config {path}: expected a mapping of option names to values")
    normalised = {str(k).replace("-", "_"): v for k, v in data.items()}
    unknown = sorted(set(normalised) - set(allowed))
    if unknown:
        raise EdgeUnetError(f"--config {path}: unknown option(s) {', '.join(unknown)}")
    return normalised
