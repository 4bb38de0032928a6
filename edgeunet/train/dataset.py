"""The training-time dataset: pairs decoded once and cached, augmented per epoch with a seed per sample."""

from __future__ import annotations

from typing import Dict, Sequence, Tuple

import numpy as np
import torch
from torch.utils.data import Dataset

from edgeunet.core.errors import EdgeUnetError
from edgeunet.core.processing import mask_to_input, normalize, resize_to_input, to_model_channels
from edgeunet.core.spec import IGNORE_LABEL, ModelSpec
from edgeunet.data.augment import build_augmentation, build_crop
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
        # --crop: training sees random crops at native resolution; validation sees whole images (resize == "native")
        self.crop = build_crop(*spec.input_size) if (train and spec.resize == "native") else None
        self._cache: Dict[int, Tuple[np.ndarray, np.ndarray]] = {}

    def __len__(self) -> int:
        return len(self.samples)

    def pair(self, index: int) -> Tuple[np.ndarray, np.ndarray]:
        """(image in model channels, class mask), both at the model's input size."""
        if index not in self._cache:
            image, mask = load_pair(self.samples[index], self.mapper)
            image = to_model_channels(image, self.spec)
            if self.spec.resize != "native":  # native: whole images; crops or pad_collate make batches
                image, mask = resize_to_input(image, self.spec), mask_to_input(mask, self.spec)
            self._cache[index] = (image, mask)
        return self._cache[index]

    def __getitem__(self, index: int) -> Tuple[torch.Tensor, torch.Tensor]:
        image, mask = self.pair(index)
        seed = int(np.random.SeedSequence([self.seed, self.epoch, index]).generate_state(1)[0])
        for step, transform in enumerate((self.crop, self.transform)):
            if transform is not None:
                transform.set_random_seed(seed + step)
                out = transform(image=image, mask=mask)
                image, mask = out["image"], out["mask"]
        return torch.from_numpy(normalize(image, self.spec)), torch.from_numpy(mask.astype(np.int64))

    def check_crop(self) -> None:
        """Every image must hold a whole crop window: say which one does not, before anything is written."""
        if self.crop is None:
            return
        height, width = self.spec.input_size
        for index in range(len(self)):
            image = self.pair(index)[0]
            if image.shape[0] < height or image.shape[1] < width:
                raise EdgeUnetError(
                    f"--crop {height}x{width} is larger than {self.samples[index].image} ({image.shape[0]}x{image.shape[1]}); "
                    "choose a crop no larger than the smallest image"
                )


def pad_collate(batch: Sequence[Tuple[torch.Tensor, torch.Tensor]]) -> Tuple[torch.Tensor, torch.Tensor]:
    """Stack images of different sizes (whole-image validation of a crop-trained model) by padding bottom/right.

    Images are padded with 0 (the mean after normalisation), masks with IGNORE_LABEL so padding counts nowhere.
    """
    height = max(int(image.shape[-2]) for image, _ in batch)
    width = max(int(image.shape[-1]) for image, _ in batch)
    images = torch.zeros((len(batch), int(batch[0][0].shape[0]), height, width), dtype=batch[0][0].dtype)
    masks = torch.full((len(batch), height, width), IGNORE_LABEL, dtype=batch[0][1].dtype)
    for i, (image, mask) in enumerate(batch):
        images[i, :, : image.shape[-2], : image.shape[-1]] = image
        masks[i, : mask.shape[-2], : mask.shape[-1]] = mask
    return images, masks
