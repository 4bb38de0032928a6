"""Training: loop, AMP on CUDA, atomic checkpoints, best-by-metric, early stop, exact resume.

Exact resume without saving data-loader state: every epoch shuffles with a generator seeded by
(seed, epoch) and every sample is augmented with a seed derived from (seed, epoch, index). Epoch e
therefore sees the same batches whether or not the run was killed before it. metrics.csv is
rewritten from the history stored in last.pt, so each epoch appears exactly once.

`train/run.py` starts or resumes a run with it. The pieces live beside this loop: `dataset` (training pairs), `epoch` (one pass), `run_files`
(metrics.csv, config.json, snapshots), `builders` (spec, split, optimiser), `distributed` (device, torchrun).
"""

from __future__ import annotations

import math
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Dict, List, Optional, Sequence, cast

import torch

from edgeunet.core.atomic import sha256_file
from edgeunet.core.cpu import cpu_info
from edgeunet.core.errors import EdgeUnetError
from edgeunet.core.overlay import colour_lut
from edgeunet.core.spec import ModelSpec
from edgeunet.data.class_balance import median_frequency_weights, parse_class_weights
from edgeunet.data.data_stats import compute_data_stats
from edgeunet.data.dataset import MaskMapper, Sample
from edgeunet.model.checkpoint import save_checkpoint
from edgeunet.model.losses import build_loss
from edgeunet.model.unet import UNet
from edgeunet.train.builders import build_optimizer, build_scheduler
from edgeunet.train.config import TrainConfig
from edgeunet.train.dataset import SegmentationDataset
from edgeunet.train.distributed import Distributed, resolve_device
from edgeunet.train.ema import averaged_state, ema_model
from edgeunet.train.epoch import EpochTools, make_loader, run_epoch
from edgeunet.train.plots import make_animation, plot_curves
from edgeunet.train.precision import train_precision
from edgeunet.train.qat import CALIBRATION_IMAGES, QAT_SCHEME, calibration_batches, quantize_model
from edgeunet.train.run_files import (
    per_class_columns,
    write_metrics_csv,
    write_snapshot,
)

__all__ = ["Trainer", "TrainState", "QatTrainer", "save_checkpoint", "write_metrics_csv"]


@dataclass
class TrainState:
    epoch: int = 0
    best_value: float = -math.inf
    best_epoch: int = 0
    epochs_without_improvement: int = 0
    stopped_early: bool = False



class Trainer:
    """One run folder: owns the model, the optimiser, the history and every file in the folder."""

    def __init__(self, cfg: TrainConfig, run_dir: Path, spec: ModelSpec, train_samples: Sequence[Sample], val_samples: Sequence[Sample]) -> None:
        self.cfg = cfg
        self.run_dir = run_dir
        self.spec = spec
        self.dist = Distributed.from_env()
        self.device = resolve_device(cfg.device, self.dist.local_rank)
        self.dist.start(self.device)
        self.precision = train_precision(cfg.amp, self.device, cpu_info()["isa"])
        if self.precision.note and self.dist.is_main:
            print(self.precision.note, file=sys.stderr)
        mapper = MaskMapper(spec.mask_values, spec.num_classes)
        self.train_set = SegmentationDataset(train_samples, spec, mapper, cfg, train=True)
        self.val_set = SegmentationDataset(val_samples, spec, mapper, cfg, train=False)
        torch.manual_seed(cfg.seed)
        self.model_args: Dict[str, Any] = {
            "in_channels": spec.in_channels, "out_channels": spec.out_channels,
            "width": cfg.width, "depth": cfg.depth, "upsampling": cfg.upsampling,
        }
        self.model = UNet(**self.model_args).to(self.device)
        if self.precision.channels_last:
            self.model = self.model.to(memory_format=torch.channels_last)  # type: ignore[call-overload]  # documented; the stubs lack it
        self.net: torch.nn.Module = self.model  # what forward passes go through (DDP-wrapped under torchrun)
        if self.dist.enabled:
            ids = [self.device.index] if self.device.type == "cuda" else None
            self.net = torch.nn.parallel.DistributedDataParallel(self.model, device_ids=ids)
        self.optimizer = build_optimizer(cfg, self.model)
        self.ema = ema_model(self.model, cfg.ema_decay) if cfg.ema else None
        self.scheduler = build_scheduler(cfg, self.optimizer)
        self.scaler = torch.amp.GradScaler("cuda", enabled=self.precision.loss_scaler)
        self.class_weights = parse_class_weights(cfg.class_weights, spec.num_classes)  # None for 'auto' until computed
        self.loss_fn = build_loss(cfg.loss, cfg.alpha, self.class_weights)
        self.state = TrainState()
        self.history: List[Dict[str, Any]] = []
        self.lut = colour_lut(spec.colors)
        self.tensorboard: Any = None
        # What the training images look like, stored in every checkpoint (export copies it into the ONNX), so that
        # `edgeunet calibrate` can warn about calibration images that are not like them.
        self.data_stats = compute_data_stats([s.image for s in train_samples], spec, cfg.seed)

    def preload(self) -> None:
        """Read and check every pair before anything is written: a bad mask fails now, not at epoch 7."""
        from tqdm import tqdm

        for dataset in (self.train_set, self.val_set):
            for index in tqdm(range(len(dataset)), desc="reading data", leave=False, disable=None, unit="image"):
                dataset.pair(index)
        self.train_set.check_crop()

    def balance_classes(self) -> List[float]:
        """Median-frequency weights from the (cached, model-size) training masks; the loss uses them from now on."""
        masks = (self.train_set.pair(i)[1] for i in range(len(self.train_set)))
        self.class_weights = median_frequency_weights(masks, self.spec.num_classes)
        self.loss_fn = build_loss(self.cfg.loss, self.cfg.alpha, self.class_weights)
        return self.class_weights

    def _tensorboard(self) -> Any:
        try:
            from torch.utils.tensorboard import SummaryWriter
        except ImportError:
            raise EdgeUnetError("--tensorboard needs the tensorboard package: pip install tensorboard") from None
        return SummaryWriter(str(self.run_dir / "tensorboard"))

    # -- checkpoints -------------------------------------------------------------------------
    def payload(self, full: bool) -> Dict[str, Any]:
        payload: Dict[str, Any] = {
            "version": 1,
            "model": dict(self.model_args),
            # best.pt holds the weights that were validated: the moving average under --ema
            "state_dict": averaged_state(self.ema) if (self.ema is not None and not full) else self._raw_state(),
            "spec": self.spec.to_dict(),
            "config": self.cfg.to_dict(),
            "epoch": self.state.epoch,
            "metrics": self.history[-1] if self.history else {},
            "data_stats": self.data_stats,
        }
        if full:
            payload.update(
                history=self.history,
                state=vars(self.state).copy(),
                optimizer=self.optimizer.state_dict(),
                scheduler=self.scheduler.state_dict() if self.scheduler is not None else None,
                scaler=self.scaler.state_dict(),
                torch_rng=torch.get_rng_state(),
                ema=self.ema.state_dict() if self.ema is not None else None,
            )
        return payload

    def _raw_state(self) -> Dict[str, torch.Tensor]:
        return {k: v.detach().cpu() for k, v in self.model.state_dict().items()}

    @property
    def evaluated_model(self) -> torch.nn.Module:
        """What validation, snapshots and best.pt use: the moving average under --ema, else the model."""
        return self.ema.module if self.ema is not None else self.model

    def restore(self, payload: Dict[str, Any]) -> None:
        self.model.load_state_dict(payload["state_dict"])
        if self.ema is not None and payload.get("ema") is not None:
            self.ema.load_state_dict(payload["ema"])
        self.optimizer.load_state_dict(payload["optimizer"])
        if self.scheduler is not None and payload.get("scheduler") is not None:
            self.scheduler.load_state_dict(payload["scheduler"])
        self.scaler.load_state_dict(payload["scaler"])
        torch.set_rng_state(payload["torch_rng"])
        self.history = list(payload["history"])
        self.state = TrainState(**payload["state"])

    # -- one epoch ----------------------------------------------------------------------------
    def _run_epoch(self, epoch: int, train: bool) -> Dict[str, Any]:
        dataset = self.train_set if train else self.val_set
        dataset.epoch = epoch
        loader = make_loader(dataset, self.cfg.batch_size, self.cfg.workers, train, epoch, self.cfg.seed, self.dist, self.device)
        net = self.net if train else self.evaluated_model
        on_step = self.ema.update_parameters if (train and self.ema is not None) else None
        tools = EpochTools(net, self.loss_fn, self.optimizer, self.scaler, self.device, self.precision.enabled, self.spec.num_classes, self.dist,
                           on_step, self.precision.dtype or torch.float16, self.precision.channels_last)
        return run_epoch(tools, loader, train, f"epoch {epoch}/{self.cfg.epochs} {'train' if train else 'val'}")

    def _snapshot(self, epoch: int, val_dice: float) -> None:
        path = self.run_dir / "snapshots" / f"epoch_{epoch:03d}.png"
        title = f"epoch {epoch}   val Dice {val_dice:.3f}"
        write_snapshot(path, self.evaluated_model, self.val_set, self.spec, self.lut, self.cfg.snapshot_samples, title, self.device)

    def _improved(self, value: float) -> bool:
        return not math.isnan(value) and value > self.state.best_value + 1e-6

    def fit(self) -> None:
        if self.cfg.tensorboard and self.tensorboard is None:
            self.tensorboard = self._tensorboard()
        start = self.state.epoch + 1
        for epoch in range(start, self.cfg.epochs + 1):
            began = time.perf_counter()
            lr = self.optimizer.param_groups[0]["lr"]
            train = self._run_epoch(epoch, train=True)
            train_seconds = time.perf_counter() - began
            val = self._run_epoch(epoch, train=False)
            row: Dict[str, Any] = {"epoch": epoch, "lr": lr}
            row.update({f"train_{k}": v for k, v in train.items() if k not in ("images", "iou")})
            row.update({f"val_{k}": v for k, v in val.items() if k not in ("images", "iou")})
            row.update(per_class_columns("val", val["iou"], self.spec.class_names))
            row["epoch_seconds"] = time.perf_counter() - began
            row["train_images_per_s"] = train["images"] / max(train_seconds, 1e-9)
            self._finish_epoch(epoch, row)
            if self.dist.is_main:
                print(
                    f"epoch {epoch}/{self.cfg.epochs}  loss {row['train_loss']:.4f}/{row['val_loss']:.4f}  "
                    f"val mIoU {row['val_miou']:.4f}  val Dice {row['val_dice']:.4f}  {row['train_images_per_s']:.1f} img/s  "
                    f"best {self.cfg.monitor} {self.state.best_value:.4f} @ {self.state.best_epoch}",
                    flush=True,
                )
            if self.state.stopped_early:
                if self.dist.is_main:
                    print(f"early stop: no {self.cfg.monitor} improvement for {self.cfg.patience} epochs", flush=True)
                break

    def _finish_epoch(self, epoch: int, row: Dict[str, Any]) -> None:
        monitored = row[f"val_{self.cfg.monitor}"]
        self.history.append(row)
        self.state.epoch = epoch
        if self.scheduler is not None:
            if isinstance(self.scheduler, torch.optim.lr_scheduler.ReduceLROnPlateau):
                self.scheduler.step(0.0 if math.isnan(monitored) else monitored)
            else:
                self.scheduler.step()
        improved = self._improved(monitored)
        if improved:
            self.state.best_value, self.state.best_epoch = monitored, epoch
            self.state.epochs_without_improvement = 0
        else:
            self.state.epochs_without_improvement += 1
        self.state.stopped_early = self.cfg.patience > 0 and self.state.epochs_without_improvement >= self.cfg.patience
        if not self.dist.is_main:  # one writer: metrics and checkpoints exist once
            return
        # Order matters for crash safety: best.pt, then last.pt (the resume point), then files derived from it.
        if improved:
            save_checkpoint(self.run_dir / "best.pt", self.payload(full=False))
        save_checkpoint(self.run_dir / "last.pt", self.payload(full=True))
        write_metrics_csv(self.run_dir / "metrics.csv", self.history)
        plot_curves(self.history, self.run_dir / "curves.png")
        self._snapshot(epoch, row["val_dice"])
        if self.tensorboard is not None:
            for key, value in row.items():
                if key != "epoch":
                    self.tensorboard.add_scalar(key.replace("_", "/", 1), value, epoch)
            self.tensorboard.flush()

    def finish(self) -> None:
        self.dist.stop()
        if not self.dist.is_main:
            return
        frames = sorted((self.run_dir / "snapshots").glob("epoch_*.png"))
        make_animation(frames, self.run_dir / "learning.gif")
        if self.tensorboard is not None:
            self.tensorboard.close()


class QatTrainer(Trainer):
    """The training loop, run through ModelOpt's fake-quant network (qat.py has the quantization; the loop lives here so
    that qat.py imports nothing of this module and `_make_trainer` needs no import inside a function).

    Fresh run (`source` given): load the fp32 weights, calibrate the quantizers on training images, fine-tune.
    Resume (`source` None): build the same quantized structure, then `restore` loads weights and ranges.
    """

    def __init__(self, cfg: TrainConfig, run_dir: Path, spec: ModelSpec, train_samples: Sequence[Sample],
                 val_samples: Sequence[Sample], source: Optional[Dict[str, Any]] = None) -> None:
        super().__init__(cfg, run_dir, spec, train_samples, val_samples)
        if self.dist.enabled:
            raise EdgeUnetError("--qat runs in one process; start it with `edgeunet train`, not torchrun")
        if source is not None:
            self.model.load_state_dict(source["state_dict"])
            count = min(CALIBRATION_IMAGES, len(self.train_set))
            batches = calibration_batches([self.train_set.pair(i)[0] for i in range(count)], spec)
        else:  # resume: the ranges come from last.pt; one pass on zeros only creates the quantizers
            height, width = spec.input_size
            batches = [torch.zeros((1, spec.in_channels, height, width))]
        # ModelOpt converts the UNet's submodules in place; the top-level object (and its class) stays the same.
        self.model = cast(UNet, quantize_model(self.model.cpu(), batches)).to(self.device)
        self.net = self.model
        # The quantized modules carry the same parameters plus range buffers: a fresh optimiser and schedule over them.
        self.optimizer = build_optimizer(cfg, self.model)
        self.scheduler = build_scheduler(cfg, self.optimizer)
        source_file = Path(cfg.qat_from) if cfg.qat_from else None
        # Recorded in every checkpoint: which fp32 model this was fine-tuned from (the gate's reference), hashed once.
        self.qat_info = {**QAT_SCHEME, "source": cfg.qat_from,
                         "source_sha256": sha256_file(source_file) if source_file is not None and source_file.is_file() else None}

    def payload(self, full: bool) -> Dict[str, Any]:
        payload = super().payload(full)
        payload["qat"] = dict(self.qat_info)
        return payload
