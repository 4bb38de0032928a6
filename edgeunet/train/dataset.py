"""The training-time dataset: pairs decoded once and cached, augmented per epoch with a seed per sample."""

from __future__ import annotations

from typing import Dict, Sequence, Tuple

import numpy as np
import torch
from torch.utils.data import Dataset

from edgeunet.core.processing import mask_to_input, normalize, resize_to_input, to_model_channels
from edgeunet.core.spec import ModelSpec
from edgeunet.data.augment import build_augmentation
from edgeunet.data.dataset import MaskMapper, Sample, load_pair
from edgeunet.train.config import TrainConfig


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
            mask = mask_to_input(mask, self.spec)
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
