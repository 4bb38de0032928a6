"""The classic seven augmentations, applied jointly to image and mask.

Albumentations (maintained, fast OpenCV kernels, and it warps masks with nearest-neighbour
interpolation so class ids never blend) instead of hand-written warps.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any, Dict, Optional

import cv2


@dataclass
class AugmentConfig:
    """Each knob of the classic seven; a probability of 0 switches that augmentation off."""

    flip_p: float = 0.5
    vflip_p: Optional[float] = None  # None: same as flip_p; 0 for scenes with a sky (street views)
    rotate_deg: float = 15.0
    scale: float = 0.15  # +/- fraction
    translate: float = 0.06  # +/- fraction of the side
    affine_p: float = 0.7
    noise_std: float = 0.03  # fraction of the 0..255 range
    noise_p: float = 0.3
    brightness: float = 0.15
    contrast: float = 0.15
    color_p: float = 0.5

    def to_dict(self) -> Dict[str, Any]:
        return asdict(self)


def build_augmentation(cfg: AugmentConfig) -> Any:
    import albumentations as A

    return A.Compose(
        [
            A.HorizontalFlip(p=cfg.flip_p),
            A.VerticalFlip(p=cfg.flip_p if cfg.vflip_p is None else cfg.vflip_p),
            A.Affine(
                scale=(1 - cfg.scale, 1 + cfg.scale),
                translate_percent=(-cfg.translate, cfg.translate),
                rotate=(-cfg.rotate_deg, cfg.rotate_deg),
                interpolation=cv2.INTER_LINEAR,
                mask_interpolation=cv2.INTER_NEAREST,
                border_mode=cv2.BORDER_REFLECT_101,
                p=cfg.affine_p,
            ),
            A.GaussNoise(std_range=(cfg.noise_std * 0.5, cfg.noise_std), p=cfg.noise_p),
            A.RandomBrightnessContrast(brightness_limit=cfg.brightness, contrast_limit=0.0, p=cfg.color_p),
            A.RandomBrightnessContrast(brightness_limit=0.0, contrast_limit=cfg.contrast, p=cfg.color_p),
        ],
        seed=0,
    )


def build_crop(height: int, width: int) -> Any:
    """A random height x width window of an image and its mask, at the image's own resolution (--crop)."""
    import albumentations as A

    return A.Compose([A.RandomCrop(height=height, width=width)], seed=0)
