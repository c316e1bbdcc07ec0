"""Checkpoints round-trip, and every kind of broken file is one clear error."""

import json

import numpy as np
import pytest

from rnnrbm.checkpoint import Checkpoint, load_checkpoint, save_checkpoint
from rnnrbm.errors import RnnrbmError
from rnnrbm.model import PARAM_NAMES, ModelConfig, init_params

CFG = ModelConfig(12, 5, 4)
META = {"low": 60, "high": 71, "steps_per_beat": 4, "out_of_range": "fold", "model": {"n_visible": 12, "n_hidden": 5, "n_recurrent": 4}}


def _ckpt(dtype=np.float32):
    return Checkpoint(init_params(CFG, np.random.default_rng(0), dtype), dict(META), {"t": np.array(3), "m/W": np.ones((12, 5))})


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_round_trip(tmp_path, dtype):
    path = tmp_path / "m.npz"
    save_checkpoint(path, _ckpt(dtype))
    loaded = load_checkpoint(path)
    for name in PARAM_NAMES:
        np.testing.assert_array_equal(loaded.params[name], _ckpt(dtype).params[name])
        assert loaded.params[name].dtype == dtype
    assert loaded.meta["format"] == "rnnrbm" and loaded.meta["version"] == 1 and loaded.meta["low"] == 60
    assert int(loaded.opt["t"]) == 3 and loaded.opt["m/W"].shape == (12, 5)
    assert loaded.model_config == CFG
    with np.load(path, allow_pickle=False) as z:  # plain npz, readable by anyone
        assert set(PARAM_NAMES) <= set(z.files) and json.loads(str(z["meta"]))["format"] == "rnnrbm"


def test_a_count_bias_round_trips_and_older_files_load_without_one(tmp_path):
    config = ModelConfig(12, 5, 4, count_bias=True)
    params = init_params(config, np.random.default_rng(0))
    params["bn"][:] = np.linspace(-3, 1, 13)
    meta = dict(META, model={"n_visible": 12, "n_hidden": 5, "n_recurrent": 4, "count_bias": True})
    save_checkpoint(tmp_path / "c.npz", Checkpoint(params, meta))
    loaded = load_checkpoint(tmp_path / "c.npz")
    assert loaded.model_config == config
    np.testing.assert_array_equal(loaded.params["bn"], params["bn"])
    # a file written before the count bias existed: no "bn" array, no count_bias in the metadata
    save_checkpoint(tmp_path / "old.npz", _ckpt())
    with np.load(tmp_path / "old.npz", allow_pickle=False) as z:
        arrays = {k: z[k] for k in z.files if k != "bn"}
    np.savez(tmp_path / "old.npz", **arrays)
    old = load_checkpoint(tmp_path / "old.npz")
    assert old.params["bn"].shape == (0,) and old.params["bn"].dtype == np.float32
    assert list(old.params) == list(PARAM_NAMES) and not old.model_config.count_bias
    # a count-bias model whose bn is missing or of the wrong length is refused
    np.savez(tmp_path / "bad.npz", **dict(arrays, meta=json.dumps(dict(json.loads(str(arrays["meta"])),
                                                                        model=meta["model"]))))
    with pytest.raises(RnnrbmError, match="missing parameter bn"):
        load_checkpoint(tmp_path / "bad.npz")


def test_refuses_to_save_non_finite(tmp_path):
    ck = _ckpt()
    ck.params["Wuu"][0, 0] = np.nan
    with pytest.raises(RnnrbmError, match="Wuu"):
        save_checkpoint(tmp_path / "m.npz", ck)
    assert not list(tmp_path.iterdir())  # no partial or temporary file left


def _corrupt(tmp_path, kind):
    path = tmp_path / "bad.npz"
    save_checkpoint(path, _ckpt())
    data = path.read_bytes()
    if kind == "truncated":
        path.write_bytes(data[: len(data) // 2])
    elif kind == "bitflip":
        b = bytearray(data)
        for i in range(200, len(b), 97):
            b[i] ^= 0xFF
        path.write_bytes(bytes(b))
    elif kind == "not-npz":
        path.write_text("hello")
    elif kind in ("version", "shape", "nan", "pickle", "format"):
        with np.load(path) as z:
            arrays = {k: z[k] for k in z.files}
        meta = json.loads(str(arrays["meta"]))
        if kind == "version":
            meta["version"] = 99
        if kind == "format":
            meta["format"] = "other"
        if kind == "shape":
            arrays["W"] = np.zeros((3, 3), np.float32)
        if kind == "nan":
            arrays["bv"] = np.full(12, np.nan, np.float32)
        arrays["meta"] = np.array(json.dumps(meta))
        if kind == "pickle":
            arrays["W"] = np.array([object()], dtype=object)
        np.savez(path, **arrays)
    return path


@pytest.mark.parametrize("kind", ["truncated", "bitflip", "not-npz", "version", "shape", "nan", "pickle", "format", "missing"])
def test_broken_checkpoints_give_one_clear_error(tmp_path, kind):
    path = tmp_path / "nope.npz" if kind == "missing" else _corrupt(tmp_path, kind)
    with pytest.raises(RnnrbmError) as info:
        load_checkpoint(path)
    message = str(info.value)
    assert str(path) in message and "\n" not in message
