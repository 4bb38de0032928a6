"""One pass over the data: training steps the optimiser, validation does not; batches are reproducible per epoch."""

from __future__ import annotations

from typing import List, Tuple

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from edgeunet.core.spec import IGNORE_LABEL  # noqa: E402
from edgeunet.model.losses import build_loss  # noqa: E402
from edgeunet.train.distributed import Distributed  # noqa: E402
from edgeunet.train.epoch import EpochTools, make_loader, predictions, run_epoch  # noqa: E402

CPU = torch.device("cpu")
ONE_PROCESS = Distributed(rank=0, world_size=1, local_rank=0)


class Pairs(torch.utils.data.Dataset):  # type: ignore[type-arg]
    """Image i is constant i/10; its mask marks the right half as foreground (index i is recoverable from the image)."""

    def __init__(self, count: int, sizes: Tuple[int, ...] = (8,)) -> None:
        self.count, self.sizes = count, sizes

    def __len__(self) -> int:
        return self.count

    def __getitem__(self, index: int) -> Tuple[torch.Tensor, torch.Tensor]:
        side = self.sizes[index % len(self.sizes)]
        mask = torch.zeros((side, side), dtype=torch.int64)
        mask[:, side // 2:] = 1
        return torch.full((1, side, side), index / 10.0), mask


def _tools(net: torch.nn.Module, on_step: object = None, lr: float = 0.1) -> EpochTools:
    return EpochTools(net=net, loss_fn=build_loss("dice_ce"), optimizer=torch.optim.SGD(net.parameters(), lr=lr),
                      scaler=torch.amp.GradScaler("cuda", enabled=False), device=CPU, use_amp=False, num_classes=2,
                      dist=ONE_PROCESS, on_step=on_step)  # type: ignore[arg-type]


def _order(loader: torch.utils.data.DataLoader) -> List[int]:  # type: ignore[type-arg]
    return [round(float(images[i, 0, 0, 0]) * 10) for images, _ in loader for i in range(images.shape[0])]


def test_predictions_threshold_one_logit_and_argmax_many() -> None:
    binary = torch.tensor([[[[-1.0, 0.0, 2.0]]]])
    assert predictions(binary).tolist() == [[[0, 0, 1]]] and predictions(binary).dtype == torch.uint8
    multi = torch.tensor([[[[1.0, 0.0]], [[0.0, 3.0]], [[2.0, 1.0]]]])  # 3 classes, 1x2 pixels
    assert predictions(multi).tolist() == [[[2, 1]]]


def test_loader_order_is_fixed_by_seed_and_epoch() -> None:
    """What exact resume rests on: epoch e's batches do not depend on whether epochs before it ran in this process."""
    def order(epoch: int, seed: int = 0, shuffle: bool = True) -> List[int]:
        return _order(make_loader(Pairs(12), 4, 0, shuffle, epoch, seed, ONE_PROCESS, CPU))

    assert order(3) == order(3) and sorted(order(3)) == list(range(12))
    assert order(3) != order(4) and order(3, seed=1) != order(3)
    assert order(3, shuffle=False) == list(range(12))  # validation reads in file order


def test_mixed_sizes_are_padded_with_ignored_pixels() -> None:
    images, masks = next(iter(make_loader(Pairs(2, sizes=(8, 6)), 2, 0, False, 1, 0, ONE_PROCESS, CPU)))
    assert images.shape == (2, 1, 8, 8) and int(masks[1, 7, 7]) == IGNORE_LABEL and int(masks[1, 0, 5]) == 1


def test_training_steps_validation_does_not() -> None:
    torch.manual_seed(0)
    net = torch.nn.Conv2d(1, 1, 3, padding=1)
    steps: List[int] = []
    loader = make_loader(Pairs(6), 4, 0, True, 1, 0, ONE_PROCESS, CPU)
    before = [p.detach().clone() for p in net.parameters()]
    val = run_epoch(_tools(net), loader, train=False, label="val")
    assert all(torch.equal(a, b) for a, b in zip(before, net.parameters())) and not net.training
    train = run_epoch(_tools(net, on_step=lambda model: steps.append(1)), loader, train=True, label="train")
    assert not all(torch.equal(a, b) for a, b in zip(before, net.parameters())) and net.training
    assert steps == [1, 1]  # once per batch: 6 images in batches of 4
    for scores in (val, train):
        assert scores["images"] == 6 and np.isfinite(scores["loss"]) and scores["loss"] > 0
        assert set(scores) == {"loss", "pixel_acc", "miou", "dice", "images", "iou"} and len(scores["iou"]) == 2
        assert 0.0 <= scores["pixel_acc"] <= 1.0


def test_an_empty_loader_scores_zero_images_without_dividing_by_zero() -> None:
    scores = run_epoch(_tools(torch.nn.Conv2d(1, 1, 1)), make_loader(Pairs(0), 4, 0, False, 1, 0, ONE_PROCESS, CPU),
                       train=False, label="val")
    assert scores["images"] == 0 and scores["loss"] == 0.0
