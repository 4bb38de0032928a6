from __future__ import annotations

import pytest

torch = pytest.importorskip("torch")

from edgeunet.model.losses import LOSS_NAMES, build_loss, dice_loss  # noqa: E402


def test_dice_loss_formula_binary() -> None:
    logits = torch.tensor([[[[0.0, 100.0], [-100.0, 0.0]]]])  # p = .5, 1, 0, .5
    target = torch.tensor([[[1, 1], [0, 0]]])
    p = torch.tensor([0.5, 1.0, 0.0, 0.5])
    g = torch.tensor([1.0, 1.0, 0.0, 0.0])
    expected = 1 - 2 * (p * g).sum() / ((p * p).sum() + (g * g).sum())
    assert dice_loss(logits, target).item() == pytest.approx(expected.item(), abs=1e-5)


def test_perfect_multiclass_prediction_has_near_zero_dice_loss() -> None:
    target = torch.randint(0, 3, (2, 8, 8))
    logits = torch.nn.functional.one_hot(target, 3).permute(0, 3, 1, 2).float() * 50
    assert dice_loss(logits, target).item() < 1e-3


@pytest.mark.parametrize("name", LOSS_NAMES)
@pytest.mark.parametrize("channels", [1, 3])
def test_losses_are_finite_and_differentiable(name: str, channels: int) -> None:
    logits = torch.randn(2, channels, 8, 8, requires_grad=True)
    target = torch.randint(0, max(channels, 2), (2, 8, 8))
    loss = build_loss(name, alpha=0.3)(logits, target)
    loss.backward()
    assert torch.isfinite(loss) and logits.grad is not None


def test_compound_is_weighted_sum() -> None:
    logits, target = torch.randn(1, 1, 8, 8), torch.randint(0, 2, (1, 8, 8))
    a = 0.3
    expected = a * build_loss("dice")(logits, target) + (1 - a) * build_loss("ce")(logits, target)
    assert build_loss("dice_ce", a)(logits, target).item() == pytest.approx(expected.item())


@pytest.mark.parametrize("name", LOSS_NAMES)
@pytest.mark.parametrize("channels", [1, 4])
def test_ignored_pixels_change_nothing(name: str, channels: int) -> None:
    from edgeunet.core.spec import IGNORE_LABEL

    torch.manual_seed(0)
    logits = torch.randn(2, channels, 8, 8)
    target = torch.randint(0, max(channels, 2), (2, 8, 8))
    loss_fn = build_loss(name, alpha=0.5, class_weights=[1.0] * max(channels, 2))
    padded_logits = torch.cat([logits, torch.randn(2, channels, 8, 4) * 10], dim=3)  # wild logits where truth is void
    padded_target = torch.cat([target, torch.full((2, 8, 4), IGNORE_LABEL)], dim=2)
    assert loss_fn(padded_logits, padded_target).item() == pytest.approx(loss_fn(logits, target).item(), rel=1e-5)


def test_unit_class_weights_equal_plain_cross_entropy_and_weights_count() -> None:
    logits, target = torch.randn(2, 3, 6, 6), torch.randint(0, 3, (2, 6, 6))
    plain = torch.nn.functional.cross_entropy(logits, target)
    assert build_loss("ce", class_weights=[1.0, 1.0, 1.0])(logits, target).item() == pytest.approx(plain.item(), rel=1e-5)
    weighted = torch.nn.functional.cross_entropy(logits, target, weight=torch.tensor([0.2, 1.0, 5.0]))
    assert build_loss("ce", class_weights=[0.2, 1.0, 5.0])(logits, target).item() == pytest.approx(weighted.item(), rel=1e-5)
