"""--max-minutes: training stops after the epoch that reaches the wall-clock budget, across resumes."""

import pytest

from rnnrbm.errors import UsageError
from rnnrbm.model import ModelConfig
from rnnrbm.train import TrainConfig, train
from test_train import META, V, loop_piece, small_config


def test_budget_stops_after_the_epoch_that_reaches_it(tmp_path):
    pieces, valid = [loop_piece(20, i) for i in range(4)], [loop_piece(12)]
    res = train(pieces, valid, ModelConfig(V, 8, 6), small_config(epochs=5, max_minutes=1e-9), tmp_path / "m.npz", META)
    assert res.out_of_time and not res.stopped_early
    assert [h["epoch"] for h in res.history] == [1]
    full = train(pieces, valid, ModelConfig(V, 8, 6), small_config(epochs=3), tmp_path / "n.npz", META)
    assert not full.out_of_time and len(full.history) == 3


def test_elapsed_time_carries_over_a_resume(tmp_path):
    pieces, valid = [loop_piece(20, i) for i in range(4)], [loop_piece(12)]
    train(pieces, valid, ModelConfig(V, 8, 6), small_config(epochs=2), tmp_path / "m.npz", META)
    res = train(pieces, valid, ModelConfig(V, 8, 6), small_config(epochs=4, max_minutes=1e-9),
                tmp_path / "m.npz", META, resume=True)
    elapsed = [h["elapsed"] for h in res.history]
    assert [h["epoch"] for h in res.history] == [1, 2, 3] and res.out_of_time
    assert elapsed == sorted(elapsed) and elapsed[2] > elapsed[1] > 0


def test_negative_budget_is_a_usage_error():
    with pytest.raises(UsageError, match="--max-minutes"):
        TrainConfig(max_minutes=-1).check()
