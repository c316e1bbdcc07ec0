"""scripts/temperature_scan.py: the valid ACC and LL of a model at several temperatures."""

import importlib.util
import json
from pathlib import Path

import numpy as np
import pytest

from rnnrbm.model import ModelConfig, dynamic_biases, init_params, recurrence

SCRIPT = Path(__file__).resolve().parents[1] / "scripts/temperature_scan.py"
spec = importlib.util.spec_from_file_location("temperature_scan", SCRIPT)
temperature_scan = importlib.util.module_from_spec(spec)
spec.loader.exec_module(temperature_scan)


def logistic_model(V=6, R=3, seed=0):
    """W = 0: notes independent given the past, so the LL has a closed form and AIS is exact."""
    rng = np.random.default_rng(seed)
    params = {k: np.zeros_like(a) for k, a in init_params(ModelConfig(V, 4, R), rng, np.float64).items()}
    params.update(bv=rng.normal(0, 1.0, V), Wuv=rng.normal(0, 1.0, (R, V)), Wvu=rng.normal(0, 1.0, (V, R)))
    return params


def exact_ll(params, pieces, temperature):
    total = steps = 0
    for v in pieces:
        a = dynamic_biases(params, recurrence(params, v.astype(float))[:-1])[0] / temperature
        total -= np.logaddexp(0.0, np.where(v > 0, -a, a)).sum()
        steps += len(v)
    return total / steps


def test_rows_hold_the_tempered_models_figures(tmp_path, capsys):
    params = logistic_model()
    rng = np.random.default_rng(1)
    pieces = [(rng.random((12, 6)) < 0.3).astype(np.uint8) for _ in range(3)]
    rows = [temperature_scan.scan_row(params, pieces, 60, t, ll_pieces=2, seed=0) for t in (1.0, 0.5)]
    for row, t in zip(rows, (1.0, 0.5)):
        assert row["temperature"] == t and row["ll_pieces"] == 2 and row["ll_steps"] == 24
        assert row["ll"] == pytest.approx(exact_ll(params, pieces[:2], t), abs=1e-6)
        assert row["ll_reverse"] == pytest.approx(row["ll"], abs=1e-6) and row["ll_agree"]
        assert 0.0 <= row["acc_step"] <= 1.0
    assert rows[0]["ll"] != pytest.approx(rows[1]["ll"], abs=1e-3)
    assert rows[0]["acc_step"] != rows[1]["acc_step"]

    (tmp_path / "scan.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows[::-1]))
    temperature_scan.report(tmp_path / "scan.jsonl")
    lines = capsys.readouterr().out.splitlines()
    assert lines[2].startswith("| 1 |") and lines[3].startswith("| 0.5 |")  # hottest first
    assert f"{rows[1]['ll']:.3f} / {rows[1]['ll_reverse']:.3f} (2)" in lines[3]
