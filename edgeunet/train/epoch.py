"""One pass over a dataset: a training epoch (forward, loss, step) or a validation epoch (forward, loss).

Kept apart from the loop so what happens to one batch reads on one screen.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable, Dict, Optional

import numpy as np
import torch
from torch.utils.data import DataLoader, Dataset

from edgeunet.core.metrics import ConfusionMatrix
from edgeunet.train.dataset import pad_collate
from edgeunet.train.distributed import Distributed


@dataclass
class EpochTools:
    """What an epoch needs from the run: the network to call, its loss, and (training only) the optimiser."""

    net: torch.nn.Module
    loss_fn: Callable[[torch.Tensor, torch.Tensor], torch.Tensor]
    optimizer: torch.optim.Optimizer
    scaler: Any
    device: torch.device
    use_amp: bool
    num_classes: int
    dist: Distributed
    on_step: Optional[Callable[[torch.nn.Module], None]] = None  # after each optimiser step (the EMA update)
    amp_dtype: torch.dtype = torch.float16  # bf16 on CPUs (train/precision.py)
    channels_last: bool = False


def _unwrapped(net: torch.nn.Module) -> torch.nn.Module:
    return net.module if isinstance(net, torch.nn.parallel.DistributedDataParallel) else net


def predictions(logits: torch.Tensor) -> torch.Tensor:
    if logits.shape[1] == 1:
        return (logits[:, 0] > 0).to(torch.uint8)
    return logits.argmax(dim=1)


def make_loader(
    dataset: Dataset, batch_size: int, workers: int, shuffle: bool, epoch: int, seed: int, dist: Distributed, device: torch.device  # type: ignore[type-arg]
) -> DataLoader:  # type: ignore[type-arg]
    """Shuffled with a generator seeded by (seed, epoch), so a resumed epoch sees the same batches."""
    generator = torch.Generator().manual_seed(seed * 100003 + epoch)
    sampler: Optional[torch.utils.data.distributed.DistributedSampler] = None  # type: ignore[type-arg]
    if dist.enabled:  # each process sees its own shard; shuffled with (seed, epoch) like one process
        sampler = torch.utils.data.distributed.DistributedSampler(dataset, num_replicas=dist.world_size, rank=dist.rank, shuffle=shuffle, seed=seed)
        sampler.set_epoch(epoch)
    return DataLoader(
        dataset,
        batch_size=batch_size,
        shuffle=shuffle and sampler is None,
        sampler=sampler,
        generator=generator,
        num_workers=workers,
        pin_memory=device.type == "cuda",
        collate_fn=pad_collate,
    )


def run_epoch(tools: EpochTools, loader: DataLoader, train: bool, label: str) -> Dict[str, Any]:  # type: ignore[type-arg]
    """Loss and scores over every batch of `loader` (summed over processes); steps the optimiser if `train`."""
    from tqdm import tqdm

    tools.net.train(train)
    cm = ConfusionMatrix(tools.num_classes)
    total_loss, seen = 0.0, 0
    for images, masks in tqdm(loader, desc=label, leave=False, disable=None if tools.dist.is_main else True, unit="batch"):
        images = images.to(tools.device, non_blocking=True)
        masks = masks.to(tools.device, non_blocking=True)
        if tools.channels_last:
            images = images.contiguous(memory_format=torch.channels_last)
        with torch.set_grad_enabled(train), torch.autocast(tools.device.type, dtype=tools.amp_dtype, enabled=tools.use_amp):
            logits = tools.net(images)
            loss = tools.loss_fn(logits.float(), masks)
        if train:
            tools.optimizer.zero_grad(set_to_none=True)
            tools.scaler.scale(loss).backward()
            tools.scaler.step(tools.optimizer)
            tools.scaler.update()
            if tools.on_step is not None:
                tools.on_step(_unwrapped(tools.net))
        total_loss += float(loss.detach()) * images.shape[0]
        seen += images.shape[0]
        cm.update(predictions(logits.detach()), masks)
    totals = tools.dist.sum(np.array([total_loss, seen], dtype=np.float64))
    total_loss, seen = float(totals[0]), int(totals[1])
    cm.matrix = tools.dist.sum(cm.matrix).astype(np.int64)
    result = cm.scores()
    return {
        "loss": total_loss / max(seen, 1), "pixel_acc": result["pixel_acc"], "miou": result["miou"], "dice": result["dice"],
        "images": seen, "iou": result["iou"],
    }
