"""The one metrics implementation agrees with scikit-learn, on numpy and on torch."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.metrics import accuracy_score, f1_score, jaccard_score

from edgeunet.core.metrics import ConfusionMatrix, confusion_matrix, scores


@pytest.mark.parametrize("num_classes", [2, 4])
def test_scores_match_sklearn(num_classes: int) -> None:
    rng = np.random.default_rng(num_classes)
    truth = rng.integers(0, num_classes, size=(3, 40, 50))
    pred = np.where(rng.random(truth.shape) < 0.7, truth, rng.integers(0, num_classes, size=truth.shape))
    result = scores(confusion_matrix(pred, truth, num_classes))
    labels = list(range(num_classes))
    t, p = truth.ravel(), pred.ravel()
    assert result["pixel_acc"] == pytest.approx(accuracy_score(t, p))
    assert result["iou"] == pytest.approx(list(jaccard_score(t, p, labels=labels, average=None)))
    assert result["dice_per_class"] == pytest.approx(list(f1_score(t, p, labels=labels, average=None)))
    assert result["miou"] == pytest.approx(jaccard_score(t, p, labels=labels, average="macro"))
    assert result["dice"] == pytest.approx(np.mean(f1_score(t, p, labels=labels[1:], average=None)))


def test_binary_dice_is_positive_class_f1() -> None:
    rng = np.random.default_rng(0)
    truth = rng.integers(0, 2, size=(64, 64))
    pred = np.where(rng.random(truth.shape) < 0.8, truth, 1 - truth)
    assert scores(confusion_matrix(pred, truth, 2))["dice"] == pytest.approx(f1_score(truth.ravel(), pred.ravel()))


def test_torch_and_numpy_agree() -> None:
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(1)
    truth = rng.integers(0, 4, size=(2, 32, 32))
    pred = rng.integers(0, 4, size=(2, 32, 32))
    np.testing.assert_array_equal(
        confusion_matrix(torch.from_numpy(pred), torch.from_numpy(truth), 4), confusion_matrix(pred, truth, 4)
    )


def test_absent_class_is_left_out_of_means() -> None:
    truth = np.array([[0, 0], [1, 1]])
    cm = ConfusionMatrix(3)
    cm.update(truth, truth)
    result = cm.scores()
    assert np.isnan(result["iou"][2])
    assert result["miou"] == 1.0 and result["dice"] == 1.0


def test_accumulates_over_batches() -> None:
    rng = np.random.default_rng(2)
    truth = rng.integers(0, 3, size=(4, 16, 16))
    pred = rng.integers(0, 3, size=(4, 16, 16))
    cm = ConfusionMatrix(3)
    for i in range(4):
        cm.update(pred[i], truth[i])
    np.testing.assert_array_equal(cm.matrix, confusion_matrix(pred, truth, 3))


def test_ignored_truth_pixels_count_nowhere() -> None:
    from edgeunet.core.spec import IGNORE_LABEL

    truth = np.array([[0, 1, IGNORE_LABEL, IGNORE_LABEL]])
    pred = np.array([[0, 1, 1, 0]])
    cm = ConfusionMatrix(2)
    cm.update(pred, truth)
    assert cm.matrix.sum() == 2 and cm.scores()["miou"] == 1.0
    torch = pytest.importorskip("torch")
    cm_t = ConfusionMatrix(2)
    cm_t.update(torch.from_numpy(pred), torch.from_numpy(truth))
    np.testing.assert_array_equal(cm_t.matrix, cm.matrix)
