from __future__ import annotations

import pytest

torch = pytest.importorskip("torch")

from edgeunet.core.spec import IGNORE_LABEL  # noqa: E402
from edgeunet.train.dataset import pad_collate  # noqa: E402


def test_mixed_sizes_are_padded_and_padding_is_ignored() -> None:
    batch = [(torch.ones(3, 20, 30), torch.zeros(20, 30, dtype=torch.int64)), (torch.ones(3, 24, 16), torch.ones(24, 16, dtype=torch.int64))]
    images, masks = pad_collate(batch)
    assert images.shape == (2, 3, 24, 30) and masks.shape == (2, 24, 30)
    assert (masks[0, 20:] == IGNORE_LABEL).all() and (masks[1, :, 16:] == IGNORE_LABEL).all()
    assert images[0, :, 20:].abs().sum() == 0 and (masks[1, :24, :16] == 1).all()
