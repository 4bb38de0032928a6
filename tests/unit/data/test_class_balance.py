from __future__ import annotations

import numpy as np
import pytest

from edgeunet.core.errors import EdgeUnetError
from edgeunet.core.spec import IGNORE_LABEL
from edgeunet.data.class_balance import median_frequency_weights, parse_class_weights


def test_median_frequency_gives_rare_classes_larger_weights() -> None:
    common = np.zeros((10, 10), np.uint8)
    common[:, 9] = 1  # class 1: 10% of this image
    rare = np.full((10, 10), 2, np.uint8)
    rare[0, 0] = 0
    rare[5:, :] = IGNORE_LABEL  # void counts nowhere
    weights = median_frequency_weights([common, rare], 3)
    # freq: c0 = 91/150, c1 = 10/100, c2 = 49/50; median = 91/150
    assert weights == pytest.approx([1.0, (91 / 150) / 0.1, (91 / 150) / (49 / 50)], rel=1e-4)


def test_class_never_seen_gets_weight_one() -> None:
    assert median_frequency_weights([np.zeros((4, 4), np.uint8)], 2)[1] == 1.0


def test_parse_list_auto_and_errors() -> None:
    assert parse_class_weights("1,2.5", 2) == [1.0, 2.5]
    assert parse_class_weights("auto", 2) is None and parse_class_weights(None, 2) is None
    with pytest.raises(EdgeUnetError, match="3 weights for 2 classes"):
        parse_class_weights("1,2,3", 2)
    with pytest.raises(EdgeUnetError, match="--class-weights"):
        parse_class_weights("1,x", 2)
