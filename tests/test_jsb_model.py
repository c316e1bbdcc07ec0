"""The shipped JSB benchmark model: benchmark sizes and grid, and better than simple baselines."""

import numpy as np

from conftest import SHARED, needs_shared
from rnnrbm.ais import log_likelihood
from rnnrbm.checkpoint import default_model_path, load_checkpoint
from rnnrbm.ingest import IngestConfig, load_pieces
from rnnrbm.metrics import frame_accuracy

JSB_MODEL = default_model_path().with_name("jsb-88.npz")


def test_jsb_model_has_the_benchmark_sizes_range_and_grid():
    ckpt = load_checkpoint(JSB_MODEL)
    assert (ckpt.model_config.n_visible, ckpt.model_config.n_hidden, ckpt.model_config.n_recurrent) == (88, 300, 100)
    assert (ckpt.meta["low"], ckpt.meta["high"], ckpt.meta["steps_per_beat"]) == (21, 108, 1)


@needs_shared("jsb-chorales-quarter.json")
def test_jsb_model_beats_independent_notes_on_test_pieces():
    ckpt = load_checkpoint(JSB_MODEL)
    corpus, _ = load_pieces([SHARED / "jsb-chorales-quarter.json"], IngestConfig(low=21, high=108, steps_per_beat=1))
    train, test = np.concatenate(corpus.pieces("train")).astype(float), corpus.pieces("test")[:4]
    p = (train.sum(0) + 1) / (len(train) + 2)  # independent notes at the train frequencies
    frames = np.concatenate(test).astype(float)
    baseline = (frames * np.log(p) + (1 - frames) * np.log(1 - p)).sum(1).mean()
    ll = log_likelihood(ckpt.params, test, runs=20, n_betas=300, seed=0).mean
    assert ll > baseline + 2  # about -5.4 against -11 on the whole test split
    assert frame_accuracy(ckpt.params, test, 5, 2, np.random.default_rng(0)) > 0.1
