"""INT8 layer sensitivity: the layer whose float copy recovers most comes first; each variant is evaluated once."""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest

from edgeunet.core.onnx_model import load_onnx
from edgeunet.data.dataset import find_samples
from edgeunet.data.synth import make_dataset
from edgeunet.export.sensitivity import VariantScorer, layer_sensitivity
from tests.unit.tiny_graphs import qdq_onnx, threshold_onnx, tiny_spec


@pytest.fixture()
def scorer(tmp_path: Path) -> VariantScorer:
    """A Q/DQ graph whose first layer reads a coarsely quantized input (step 0.5) and whose second is nearly exact."""
    samples = find_samples(make_dataset(tmp_path / "cells", count=4, size=32, seed=0))
    qmodel = load_onnx(qdq_onnx(tmp_path / "m.int8.onnx"))
    made = VariantScorer(qmodel, threshold_onnx(tmp_path / "m.onnx"), samples, workdir=tmp_path)
    yield made
    made.close()


def test_the_damaging_layer_ranks_first(scorer: VariantScorer) -> None:
    result = layer_sensitivity(scorer, tiny_spec(), progress=False)
    assert result.metric == "dice" and result.images == 4  # binary model: Dice
    assert result.quantized < result.reference - 0.05  # the coarse input step costs accuracy
    assert result.order() == ["/enc/Conv", "/head/Conv"]
    first, second = result.layers
    assert first.op == "Conv" and first.recovered > 0.05 and abs(first.drop_float) < 0.02  # float first layer ~ fp32
    assert abs(second.recovered) < 0.02 and second.metric_alone is None
    # SQNR is of each layer's output in the fully quantized graph: the exact head inherits the first layer's error
    assert math.isfinite(first.sqnr_db) and first.sqnr_db < 20 and math.isclose(second.sqnr_db, first.sqnr_db, rel_tol=0.05)
    assert json.loads(json.dumps(result.to_dict()))["layers"][0]["name"] == "/enc/Conv"


def test_alone_and_every_variant_evaluated_once(scorer: VariantScorer) -> None:
    result = layer_sensitivity(scorer, tiny_spec(), alone=True, progress=False)
    enc = result.layers[0]
    assert enc.metric_alone is not None and enc.drop_alone is not None
    assert math.isclose(enc.drop_alone, result.reference - enc.metric_alone)
    assert enc.drop_alone > 0.05  # quantizing only the first layer already costs what all of them do
    # fp32 + all quantized + each layer in float; "only one quantized" = "the other in float": already measured
    assert scorer.evaluations == 4
    scorer.scores([])
    assert scorer.evaluations == 4


def test_scorer_keeps_no_variant_files(scorer: VariantScorer, tmp_path: Path) -> None:
    scorer.scores(["/head/Conv"])
    folder = Path(scorer._tmp.name)
    assert folder.parent == tmp_path and list(folder.iterdir()) == []
    scorer.close()
    assert not folder.exists()
