"""Training: loop, AMP on CUDA, atomic checkpoints, best-by-metric, early stop, exact resume.

Exact resume without saving data-loader state: every epoch shuffles with a generator seeded by
(seed, epoch) and every sample is augmented with a seed derived from (seed, epoch, index). Epoch e
therefore sees the same batches whether or not the run was killed before it. metrics.csv is
rewritten from the history stored in last.pt, so each epoch appears exactly once.
"""

from __future__ import annotations

import csv
import io
import math
import os
import signal
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Dict, List, Optional, Sequence, Tuple

import cv2
import numpy as np
import torch
from torch.utils.data import DataLoader, Dataset

from edgeunet.core.atomic import atomic_write_text, ensure_writable_dir
from edgeunet.core.errors import EdgeUnetError
from edgeunet.core.metrics import ConfusionMatrix
from edgeunet.core.overlay import colour_lut, write_png
from edgeunet.core.processing import normalize, resize_to_input, to_model_channels
from edgeunet.core.spec import ModelSpec
from edgeunet.data.augment import build_augmentation
from edgeunet.data.dataset import MaskMapper, Sample, dataset_channels, default_mask_values, find_samples, load_pair, mean_std, parse_mask_map, split_samples
from edgeunet.model.checkpoint import load_checkpoint, save_checkpoint
from edgeunet.model.losses import build_loss
from edgeunet.model.unet import UNet
from edgeunet.train.config import TrainConfig
from edgeunet.train.plots import make_animation, plot_curves, prediction_grid

CSV_COLUMNS = [
    "epoch", "lr", "train_loss", "train_pixel_acc", "train_miou", "train_dice",
    "val_loss", "val_pixel_acc", "val_miou", "val_dice", "epoch_seconds", "train_images_per_s",
]
SNAPSHOT_TILE = 160


class SegmentationDataset(Dataset):  # type: ignore[type-arg]
    """Pairs resized to the model size once (decoded images are cached), augmented per epoch."""

    def __init__(self, samples: Sequence[Sample], spec: ModelSpec, mapper: MaskMapper, cfg: TrainConfig, train: bool) -> None:
        self.samples = list(samples)
        self.spec = spec
        self.mapper = mapper
        self.seed = cfg.seed
        self.epoch = 0
        self.transform = build_augmentation(cfg.augmentation) if (train and cfg.augment) else None
        self._cache: Dict[int, Tuple[np.ndarray, np.ndarray]] = {}

    def __len__(self) -> int:
        return len(self.samples)

    def pair(self, index: int) -> Tuple[np.ndarray, np.ndarray]:
        """(image in model channels, class mask), both at the model's input size."""
        if index not in self._cache:
            image, mask = load_pair(self.samples[index], self.mapper)
            image = resize_to_input(to_model_channels(image, self.spec), self.spec)
            height, width = self.spec.input_size
            mask = cv2.resize(mask, (width, height), interpolation=cv2.INTER_NEAREST)
            self._cache[index] = (image, mask)
        return self._cache[index]

    def __getitem__(self, index: int) -> Tuple[torch.Tensor, torch.Tensor]:
        image, mask = self.pair(index)
        if self.transform is not None:
            seed = int(np.random.SeedSequence([self.seed, self.epoch, index]).generate_state(1)[0])
            self.transform.set_random_seed(seed)
            out = self.transform(image=image, mask=mask)
            image, mask = out["image"], out["mask"]
        return torch.from_numpy(normalize(image, self.spec)), torch.from_numpy(mask.astype(np.int64))


@dataclass
class Distributed:
    """torchrun's environment (RANK, WORLD_SIZE, LOCAL_RANK); one process without it."""

    rank: int = 0
    world_size: int = 1
    local_rank: int = 0

    @property
    def enabled(self) -> bool:
        return self.world_size > 1

    @property
    def is_main(self) -> bool:
        return self.rank == 0

    @classmethod
    def from_env(cls) -> "Distributed":
        return cls(int(os.environ.get("RANK", "0")), int(os.environ.get("WORLD_SIZE", "1")), int(os.environ.get("LOCAL_RANK", "0")))

    def start(self, device: torch.device) -> None:
        if self.enabled and not torch.distributed.is_initialized():
            torch.distributed.init_process_group("nccl" if device.type == "cuda" else "gloo")

    def stop(self) -> None:
        if self.enabled and torch.distributed.is_initialized():
            torch.distributed.destroy_process_group()

    def sum(self, values: np.ndarray) -> np.ndarray:
        """Add an array across processes (CPU gloo and CUDA nccl alike); identity for one process."""
        if not self.enabled:
            return values
        backend_device = "cuda" if torch.distributed.get_backend() == "nccl" else "cpu"
        tensor = torch.as_tensor(values, dtype=torch.float64, device=backend_device)
        torch.distributed.all_reduce(tensor)
        return tensor.cpu().numpy()


@dataclass
class TrainState:
    epoch: int = 0
    best_value: float = -math.inf
    best_epoch: int = 0
    epochs_without_improvement: int = 0
    stopped_early: bool = False


def resolve_device(requested: str, local_rank: int = 0) -> torch.device:
    if requested == "auto":
        requested = "cuda" if torch.cuda.is_available() else "cpu"
    if requested == "cuda" and torch.cuda.is_available():
        return torch.device("cuda", local_rank % torch.cuda.device_count())
    if requested.startswith("cuda") and not torch.cuda.is_available():
        raise EdgeUnetError(f"--device {requested}: PyTorch sees no CUDA GPU here; use --device cpu (or auto)")
    if requested != "cpu" and not requested.startswith("cuda"):
        raise EdgeUnetError(f"--device {requested}: expected auto, cpu, cuda or cuda:N")
    return torch.device(requested)


def _class_names(cfg: TrainConfig) -> List[str]:
    if cfg.class_names:
        return list(cfg.class_names)
    if cfg.classes == 2:
        return ["background", "foreground"]
    return ["background"] + [f"class_{i}" for i in range(1, cfg.classes)]


def build_spec(cfg: TrainConfig, train_samples: Sequence[Sample]) -> ModelSpec:
    mask_values = parse_mask_map(cfg.mask_map) if cfg.mask_map else default_mask_values(cfg.classes, cfg.positive_value)
    channels = dataset_channels(train_samples)
    return ModelSpec(
        in_channels=channels,
        num_classes=cfg.classes,
        class_names=_class_names(cfg),
        input_size=[cfg.size, cfg.size],
        channel_order="gray" if channels == 1 else "rgb",
        mean=[0.5] * channels,
        std=[0.25] * channels,
        mask_values=mask_values,
    )


def split_data(cfg: TrainConfig) -> Tuple[List[Sample], List[Sample]]:
    samples = find_samples(cfg.data)
    if cfg.val_data:
        return samples, find_samples(cfg.val_data)
    if cfg.val_ratio <= 0:
        raise EdgeUnetError("--val-ratio 0 leaves nothing to validate on; give --val-data DIR or a ratio such as 0.2")
    train, val, _ = split_samples(samples, cfg.val_ratio, 0.0, cfg.seed)
    return train, val


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


def predictions(logits: torch.Tensor) -> torch.Tensor:
    if logits.shape[1] == 1:
        return (logits[:, 0] > 0).to(torch.uint8)
    return logits.argmax(dim=1)


def write_metrics_csv(path: Path, history: List[Dict[str, Any]]) -> None:
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=CSV_COLUMNS, extrasaction="ignore", lineterminator="\n")
    writer.writeheader()
    for row in history:
        writer.writerow({k: (f"{v:.6g}" if isinstance(v, float) else v) for k, v in row.items()})
    atomic_write_text(path, buffer.getvalue())


class Trainer:
    """One run folder: owns the model, the optimiser, the history and every file in the folder."""

    def __init__(self, cfg: TrainConfig, run_dir: Path, spec: ModelSpec, train_samples: Sequence[Sample], val_samples: Sequence[Sample]) -> None:
        self.cfg = cfg
        self.run_dir = run_dir
        self.spec = spec
        self.dist = Distributed.from_env()
        self.device = resolve_device(cfg.device, self.dist.local_rank)
        self.dist.start(self.device)
        self.use_amp = cfg.amp and self.device.type == "cuda"
        if cfg.amp and not self.use_amp and self.dist.is_main:
            print("note: --amp needs CUDA; training in fp32 on the CPU", file=sys.stderr)
        mapper = MaskMapper(spec.mask_values, spec.num_classes)
        self.train_set = SegmentationDataset(train_samples, spec, mapper, cfg, train=True)
        self.val_set = SegmentationDataset(val_samples, spec, mapper, cfg, train=False)
        torch.manual_seed(cfg.seed)
        self.model_args: Dict[str, Any] = {
            "in_channels": spec.in_channels, "out_channels": spec.out_channels,
            "width": cfg.width, "depth": cfg.depth, "upsampling": cfg.upsampling,
        }
        self.model = UNet(**self.model_args).to(self.device)
        self.net: torch.nn.Module = self.model  # what forward passes go through (DDP-wrapped under torchrun)
        if self.dist.enabled:
            ids = [self.device.index] if self.device.type == "cuda" else None
            self.net = torch.nn.parallel.DistributedDataParallel(self.model, device_ids=ids)
        self.optimizer = build_optimizer(cfg, self.model)
        self.scheduler = build_scheduler(cfg, self.optimizer)
        self.scaler = torch.amp.GradScaler("cuda", enabled=self.use_amp)
        self.loss_fn = build_loss(cfg.loss, cfg.alpha)
        self.state = TrainState()
        self.history: List[Dict[str, Any]] = []
        self.lut = colour_lut(spec.colors)
        self.tensorboard: Any = None

    def preload(self) -> None:
        """Read and check every pair before anything is written: a bad mask fails now, not at epoch 7."""
        from tqdm import tqdm

        for dataset in (self.train_set, self.val_set):
            for index in tqdm(range(len(dataset)), desc="reading data", leave=False, disable=None, unit="image"):
                dataset.pair(index)

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
            "state_dict": {k: v.detach().cpu() for k, v in self.model.state_dict().items()},
            "spec": self.spec.to_dict(),
            "config": self.cfg.to_dict(),
            "epoch": self.state.epoch,
            "metrics": self.history[-1] if self.history else {},
        }
        if full:
            payload.update(
                history=self.history,
                state=vars(self.state).copy(),
                optimizer=self.optimizer.state_dict(),
                scheduler=self.scheduler.state_dict() if self.scheduler is not None else None,
                scaler=self.scaler.state_dict(),
                torch_rng=torch.get_rng_state(),
            )
        return payload

    def restore(self, payload: Dict[str, Any]) -> None:
        self.model.load_state_dict(payload["state_dict"])
        self.optimizer.load_state_dict(payload["optimizer"])
        if self.scheduler is not None and payload.get("scheduler") is not None:
            self.scheduler.load_state_dict(payload["scheduler"])
        self.scaler.load_state_dict(payload["scaler"])
        torch.set_rng_state(payload["torch_rng"])
        self.history = list(payload["history"])
        self.state = TrainState(**payload["state"])

    # -- one epoch ----------------------------------------------------------------------------
    def _loader(self, dataset: SegmentationDataset, shuffle: bool, epoch: int) -> DataLoader:  # type: ignore[type-arg]
        generator = torch.Generator().manual_seed(self.cfg.seed * 100003 + epoch)
        sampler: Optional[torch.utils.data.distributed.DistributedSampler] = None  # type: ignore[type-arg]
        if self.dist.enabled:  # each process sees its own shard; shuffled with (seed, epoch) like one process
            sampler = torch.utils.data.distributed.DistributedSampler(
                dataset, num_replicas=self.dist.world_size, rank=self.dist.rank, shuffle=shuffle, seed=self.cfg.seed
            )
            sampler.set_epoch(epoch)
        return DataLoader(
            dataset,
            batch_size=self.cfg.batch_size,
            shuffle=shuffle and sampler is None,
            sampler=sampler,
            generator=generator,
            num_workers=self.cfg.workers,
            pin_memory=self.device.type == "cuda",
        )

    def _run_epoch(self, epoch: int, train: bool) -> Dict[str, float]:
        from tqdm import tqdm

        dataset = self.train_set if train else self.val_set
        dataset.epoch = epoch
        self.net.train(train)
        cm = ConfusionMatrix(self.spec.num_classes)
        total_loss, seen = 0.0, 0
        label = f"epoch {epoch}/{self.cfg.epochs} {'train' if train else 'val'}"
        for images, masks in tqdm(self._loader(dataset, train, epoch), desc=label, leave=False, disable=None if self.dist.is_main else True, unit="batch"):
            images = images.to(self.device, non_blocking=True)
            masks = masks.to(self.device, non_blocking=True)
            with torch.set_grad_enabled(train), torch.autocast(self.device.type, dtype=torch.float16, enabled=self.use_amp):
                logits = self.net(images)
                loss = self.loss_fn(logits.float(), masks)
            if train:
                self.optimizer.zero_grad(set_to_none=True)
                self.scaler.scale(loss).backward()
                self.scaler.step(self.optimizer)
                self.scaler.update()
            total_loss += float(loss.detach()) * images.shape[0]
            seen += images.shape[0]
            cm.update(predictions(logits.detach()), masks)
        totals = self.dist.sum(np.array([total_loss, seen], dtype=np.float64))
        total_loss, seen = float(totals[0]), int(totals[1])
        cm.matrix = self.dist.sum(cm.matrix).astype(np.int64)
        result = cm.scores()
        return {"loss": total_loss / max(seen, 1), "pixel_acc": result["pixel_acc"], "miou": result["miou"], "dice": result["dice"], "images": seen}

    def _snapshot(self, epoch: int, val_dice: float) -> None:
        count = min(self.cfg.snapshot_samples, len(self.val_set))
        if count == 0:
            return
        self.model.eval()
        rows = []
        with torch.no_grad():
            for index in range(count):
                image, truth = self.val_set.pair(index)
                tensor = torch.from_numpy(normalize(image, self.spec))[None].to(self.device)
                pred = predictions(self.model(tensor))[0].cpu().numpy().astype(np.uint8)
                scale = SNAPSHOT_TILE / max(image.shape[:2])
                size = (max(1, round(image.shape[1] * scale)), max(1, round(image.shape[0] * scale)))
                shown = cv2.cvtColor(image, cv2.COLOR_RGB2BGR) if image.ndim == 3 else image
                rows.append({
                    "image": cv2.resize(shown, size, interpolation=cv2.INTER_AREA),
                    "truth": cv2.resize(truth, size, interpolation=cv2.INTER_NEAREST),
                    "pred": cv2.resize(pred, size, interpolation=cv2.INTER_NEAREST),
                })
        grid = prediction_grid(rows, self.lut, title=f"epoch {epoch}   val Dice {val_dice:.3f}")
        write_png(self.run_dir / "snapshots" / f"epoch_{epoch:03d}.png", grid)

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
            row.update({f"train_{k}": v for k, v in train.items() if k != "images"})
            row.update({f"val_{k}": v for k, v in val.items() if k != "images"})
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


def _raise_keyboard_interrupt(signum: int, frame: Any) -> None:
    raise KeyboardInterrupt


def resume_checkpoint_path(resume: Path) -> Path:
    if resume.is_dir():
        if not (resume / "last.pt").is_file():
            raise EdgeUnetError(f"--resume {resume}: not an edgeunet run (no last.pt inside); pass a run folder such as runs/NAME")
        return resume / "last.pt"
    if not resume.exists():
        raise EdgeUnetError(f"--resume {resume}: no such run folder or checkpoint")
    return resume


def remove_stale_temp_files(run_dir: Path) -> None:
    """A SIGKILL mid-write leaves our '.NAME.*.tmp' files behind (the real files are intact); tidy them."""
    for stale in list(run_dir.glob(".*.tmp")) + list(run_dir.glob("snapshots/.*.tmp")):
        stale.unlink()


def train(cfg: TrainConfig, resume: Optional[Path] = None, device: Optional[str] = None) -> Path:
    """Run (or continue) a training; returns the run folder."""
    if resume is not None:
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
        spec = ModelSpec.from_dict(payload["spec"], str(last))
    else:
        cfg.validate()
        run_dir = Path(cfg.out)
        if (run_dir / "last.pt").exists():
            raise EdgeUnetError(f"--out {run_dir} already holds a run; continue it with --resume {run_dir} or choose another --out")
        payload = None
    train_samples, val_samples = split_data(cfg)
    if payload is None:
        spec = build_spec(cfg, train_samples)
    trainer = Trainer(cfg, run_dir, spec, train_samples, val_samples)
    trainer.preload()
    ensure_writable_dir(run_dir, "--out folder")
    if payload is None:
        images = [trainer.train_set.pair(i)[0] for i in range(min(64, len(trainer.train_set)))]
        spec.mean, spec.std = mean_std(images)
        if trainer.dist.is_main:
            atomic_write_text(run_dir / "config.json", _json(cfg.to_dict()))
    else:
        trainer.restore(payload)
        if trainer.state.stopped_early or trainer.state.epoch >= cfg.epochs:
            print(f"{run_dir}: this run already finished at epoch {trainer.state.epoch}; nothing to resume")
            return run_dir
        if trainer.dist.is_main:
            print(f"resuming {run_dir} from epoch {trainer.state.epoch}", flush=True)
    if trainer.dist.is_main:
        print(
            f"training on {len(train_samples)} images, validating on {len(val_samples)}; {spec.in_channels} channel(s), "
            f"{spec.num_classes} classes, {cfg.size}x{cfg.size}, width {cfg.width}, device {trainer.device}"
            + (f", {trainer.dist.world_size} processes" if trainer.dist.enabled else ""),
            flush=True,
        )
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
    return run_dir


def _json(data: Dict[str, Any]) -> str:
    import json

    return json.dumps(data, indent=2, sort_keys=True) + "\n"
