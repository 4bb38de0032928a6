"""Starting or resuming a training run: the run folder, the split, the trainer, signals (the `edgeunet train` entry).

A fresh run refuses a folder that already holds one; `--resume` takes the run's own config and continues from its
last finished epoch; Ctrl-C or SIGTERM saves that epoch and names the resume command.
"""

from __future__ import annotations

import signal
from pathlib import Path
from typing import Any, Dict, Optional, Sequence, Tuple

from edgeunet.core.atomic import ensure_writable_dir
from edgeunet.core.errors import EdgeUnetError
from edgeunet.core.spec import ModelSpec
from edgeunet.data.dataset import Sample, mean_std
from edgeunet.model.checkpoint import load_checkpoint
from edgeunet.train.builders import build_spec, split_data
from edgeunet.train.config import TrainConfig
from edgeunet.train.run_files import remove_stale_temp_files, resume_checkpoint_path, write_class_weights, write_config
from edgeunet.train.trainer import QatTrainer, Trainer


def _raise_keyboard_interrupt(signum: int, frame: Any) -> None:
    raise KeyboardInterrupt


def _make_trainer(cfg: TrainConfig, run_dir: Path, spec: ModelSpec, train_samples: Sequence[Sample], val_samples: Sequence[Sample],
                  source: Optional[Dict[str, Any]]) -> Trainer:
    """The plain loop, or (cfg.qat_from) the quantization-aware one."""
    if cfg.qat_from is None:
        return Trainer(cfg, run_dir, spec, train_samples, val_samples)
    return QatTrainer(cfg, run_dir, spec, train_samples, val_samples, source)


def train(cfg: TrainConfig, resume: Optional[Path] = None, device: Optional[str] = None, source: Optional[Dict[str, Any]] = None) -> Path:
    """Run (or continue) a training; returns the run folder.

    `source`: the fp32 checkpoint payload a fresh QAT run (cfg.qat_from) starts from; its spec (sizes, mean/std,
    classes) is kept as is, so the quantized model sees exactly the inputs the fp32 model was trained on.
    """
    cfg, run_dir, payload = _resumed(cfg, resume, device) if resume is not None else _fresh(cfg)
    train_samples, val_samples = split_data(cfg)
    if payload is not None:
        spec = ModelSpec.from_dict(payload["spec"], str(run_dir / "last.pt"))
    else:
        spec = build_spec(cfg, train_samples) if source is None else ModelSpec.from_dict(source["spec"], str(cfg.qat_from))
    trainer = _make_trainer(cfg, run_dir, spec, train_samples, val_samples, source)
    trainer.preload()
    ensure_writable_dir(run_dir, "--out folder")
    _class_weights(cfg, trainer, spec, run_dir, write=payload is None)
    if payload is None:
        _start_files(cfg, trainer, spec, run_dir, source)
    elif not _restored(trainer, payload, cfg, run_dir):
        return run_dir
    if trainer.dist.is_main:
        print(
            f"training on {len(train_samples)} images, validating on {len(val_samples)}; {spec.in_channels} channel(s), "
            f"{spec.num_classes} classes, {spec.input_size[0]}x{spec.input_size[1]} ({spec.resize}), width {cfg.width}, device {trainer.device}"
            + (f" ({trainer.precision.describe()})" if trainer.precision.enabled else "")
            + (f", {trainer.dist.world_size} processes" if trainer.dist.enabled else ""),
            flush=True,
        )
    _fit(trainer, run_dir)
    return run_dir


def _resumed(cfg: TrainConfig, resume: Path, device: Optional[str]) -> Tuple[TrainConfig, Path, Dict[str, Any]]:
    """The config, folder and payload of the run `--resume` names; its own config wins over the caller's."""
    last = resume_checkpoint_path(Path(resume))
    payload = load_checkpoint(last)
    if "optimizer" not in payload:
        raise EdgeUnetError(f"--resume {resume}: {last.name} holds weights only; resume from the run's last.pt")
    cfg = TrainConfig.from_dict(payload["config"])
    if device:
        cfg.device = device
    run_dir = last.parent
    cfg.out = str(run_dir)
    remove_stale_temp_files(run_dir)
    return cfg, run_dir, payload


def _fresh(cfg: TrainConfig) -> Tuple[TrainConfig, Path, None]:
    cfg.validate()
    run_dir = Path(cfg.out)
    if (run_dir / "last.pt").exists():
        raise EdgeUnetError(f"--out {run_dir} already holds a run; continue it with --resume {run_dir} or choose another --out")
    return cfg, run_dir, None


def _class_weights(cfg: TrainConfig, trainer: Trainer, spec: ModelSpec, run_dir: Path, write: bool) -> None:
    """--class-weights auto: recomputed on resume too (same masks, same weights, nothing extra to store)."""
    if not (isinstance(cfg.class_weights, str) and cfg.class_weights.strip().lower() == "auto"):
        return
    weights = trainer.balance_classes()
    if trainer.dist.is_main and write:
        write_class_weights(run_dir / "class_weights.json", weights, spec.class_names, "median_frequency")


def _start_files(cfg: TrainConfig, trainer: Trainer, spec: ModelSpec, run_dir: Path, source: Optional[Dict[str, Any]]) -> None:
    """A fresh run: input statistics from the training images (a QAT run keeps its source's), then config.json."""
    if source is None:
        images = [trainer.train_set.pair(i)[0] for i in range(min(64, len(trainer.train_set)))]
        spec.mean, spec.std = mean_std(images)
    if trainer.dist.is_main:
        write_config(run_dir / "config.json", cfg.to_dict())


def _restored(trainer: Trainer, payload: Dict[str, Any], cfg: TrainConfig, run_dir: Path) -> bool:
    """Load the resumed state; False when that run had already finished (nothing left to do)."""
    trainer.restore(payload)
    if trainer.state.stopped_early or trainer.state.epoch >= cfg.epochs:
        print(f"{run_dir}: this run already finished at epoch {trainer.state.epoch}; nothing to resume")
        return False
    if trainer.dist.is_main:
        print(f"resuming {run_dir} from epoch {trainer.state.epoch}", flush=True)
    return True


def _fit(trainer: Trainer, run_dir: Path) -> None:
    """Train; Ctrl-C or SIGTERM saves the last finished epoch and names the resume command (exit 130)."""
    previous = signal.signal(signal.SIGTERM, _raise_keyboard_interrupt)
    try:
        trainer.fit()
    except KeyboardInterrupt:
        trainer.finish()
        raise EdgeUnetError(
            f"interrupted; {run_dir} is saved up to epoch {trainer.state.epoch}; continue with: edgeunet train --resume {run_dir}",
            exit_code=130,
        ) from None
    finally:
        signal.signal(signal.SIGTERM, previous)
    trainer.finish()

