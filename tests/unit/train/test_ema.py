from __future__ import annotations

import pytest

torch = pytest.importorskip("torch")

from edgeunet.train.ema import averaged_state, ema_model  # noqa: E402


def test_average_follows_the_model_early_then_lags() -> None:
    model = torch.nn.Linear(1, 1, bias=False)
    with torch.no_grad():
        model.weight.fill_(0.0)
    ema = ema_model(model, decay=0.9)
    for value in range(1, 31):
        with torch.no_grad():
            model.weight.fill_(float(value))
        ema.update_parameters(model)
    averaged = float(averaged_state(ema)["weight"])
    assert 20.0 < averaged < 30.0  # behind the latest weights, far ahead of a plain 0.9 average from 0
