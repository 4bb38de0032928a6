"""Where training runs: the device, and torchrun's processes (one process without torchrun)."""

from __future__ import annotations

import os
from dataclasses import dataclass

import numpy as np
import torch

from edgeunet.core.errors import EdgeUnetError


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
