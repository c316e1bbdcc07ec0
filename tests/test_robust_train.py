"""Training never loses work: kills, full disks, failed writes, divergence, odd pieces (issue 7)."""

from __future__ import annotations

import errno
import importlib.util
import json
import os
import shutil
import sys
import tempfile
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest
from typer.testing import CliRunner

import rnnrbm.optim
import rnnrbm.train
from rnnrbm.checkpoint import Checkpoint, load_checkpoint, load_resume, save_checkpoint
from rnnrbm.cli import app
from rnnrbm.corpus import Corpus
from rnnrbm.errors import RnnrbmError, UsageError
from rnnrbm.model import ModelConfig
from rnnrbm.train import TrainConfig, checkpoint_bytes, train
from tests.test_train import META, V, loop_piece

runner = CliRunner()
SCRIPT = Path(__file__).resolve().parents[1] / "scripts" / "kill_resume_trials.py"
TIMING = ("seconds", "steps_per_s", "elapsed")  # the only record fields that may differ between runs


def config(**kw) -> TrainConfig:
    base = dict(epochs=4, cd_k=2, batch=2, chunk=8, patience=100, negative_batch=2, negative_weight=0.05,
                gradient="bptt")
    return TrainConfig(**{**base, **kw})


PIECES = [loop_piece(20, i) for i in range(4)]
VALID = [loop_piece(12, 1)]
MODEL = ModelConfig(V, 8, 6)


def same_run(a: Path, b: Path) -> None:
    """Two runs wrote the same checkpoints (bit for bit) and the same log apart from timings."""
    for suffix in (".npz", ".last.npz"):
        x, y = load_checkpoint(a.with_name(a.stem + suffix)), load_checkpoint(b.with_name(b.stem + suffix))
        assert x.meta["epoch"] == y.meta["epoch"]
        for name in x.params:
            np.testing.assert_array_equal(x.params[name], y.params[name])
    logs = [[{k: v for k, v in json.loads(line).items() if k not in TIMING}
             for line in p.with_name(p.stem + ".log.jsonl").read_text().splitlines()] for p in (a, b)]
    assert logs[0] == logs[1]


# ------------------------------------------------------------------ SIGKILL at random moments

def test_sigkill_at_random_moments_then_resume_loses_nothing(tmp_path, monkeypatch):
    spec = importlib.util.spec_from_file_location("kill_resume_trials", SCRIPT)
    trials = importlib.util.module_from_spec(spec)
    monkeypatch.setitem(sys.modules, spec.name, trials)  # its dataclasses look themselves up there
    spec.loader.exec_module(trials)
    lines = []
    report = trials.run_trials(tmp_path, trials=5, epochs=60, seed=2, log=lines.append)
    trials.finish(tmp_path, report, epochs=60)
    assert not report.failures, "\n".join(report.failures + lines)
    assert report.survived == report.trials == 5
    assert report.kills_mid_run >= 1 and report.runs_finished >= 1, lines


class _Killed(BaseException):
    """Stands for SIGKILL: nothing in rnnrbm catches it."""


@pytest.mark.parametrize("gradient", ["bptt", "rtrl"])
def test_a_crash_after_any_single_write_resumes_to_the_same_result(tmp_path, monkeypatch, gradient):
    reference = tmp_path / "reference" / "m.npz"
    train(PIECES, VALID, MODEL, config(gradient=gradient), reference, META)
    writes = []  # every file the run commits: best, last, log, in order
    real_save, real_log = rnnrbm.train.save_checkpoint, rnnrbm.train._write_log
    monkeypatch.setattr(rnnrbm.train, "save_checkpoint", lambda path, ckpt: (real_save(path, ckpt),
                                                                            writes.append(Path(path).name)))
    monkeypatch.setattr(rnnrbm.train, "_write_log", lambda path, history: (real_log(path, history),
                                                                          writes.append(Path(path).name)))
    train(PIECES, VALID, MODEL, config(gradient=gradient), tmp_path / "count" / "m.npz", META)
    order = list(writes)
    assert order[:3] == ["m.npz", "m.last.npz", "m.log.jsonl"]  # best first, then the resumable state
    for crash_after in range(1, len(order)):
        out = tmp_path / f"crash{crash_after}" / "m.npz"
        writes.clear()

        def crash(real, name_of):
            def write(path, value):
                real(path, value)
                writes.append(name_of(path))
                if len(writes) == crash_after:
                    raise _Killed

            return write

        with monkeypatch.context() as m:
            m.setattr(rnnrbm.train, "save_checkpoint", crash(real_save, lambda p: Path(p).name))
            m.setattr(rnnrbm.train, "_write_log", crash(real_log, lambda p: Path(p).name))
            with pytest.raises(_Killed):
                train(PIECES, VALID, MODEL, config(gradient=gradient), out, META)
        resume = out.with_name("m.last.npz").exists()
        train(PIECES, VALID, MODEL, config(gradient=gradient), out, META, resume=resume)
        same_run(out, reference)


def test_stale_temporary_files_are_removed_and_others_kept(tmp_path):
    out = tmp_path / "m.npz"
    stale = [".m.npz.abcd1234.tmp", ".m.last.npz.x_y9z8w7.tmp", ".m.log.jsonl.00000000.tmp"]
    kept = [".other.npz.abcd1234.tmp", "notes.tmp", ".m.npz.short.tmp", "m.npz.txt"]
    for name in stale + kept:
        (tmp_path / name).write_bytes(b"PK\x03\x04 half")
    train(PIECES, VALID, MODEL, config(epochs=1), out, META)
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(kept + ["m.npz", "m.last.npz", "m.log.jsonl"])


# ------------------------------------------------------------------ output problems, early and late

def _events(log: list):
    return lambda kind, info: log.append(kind)


@pytest.mark.parametrize("where", ["out-is-folder", "last-is-folder", "parent-is-file", "denied"])
def test_unwritable_output_fails_before_training(tmp_path, monkeypatch, where):
    out = tmp_path / "run" / "m.npz"
    if where == "out-is-folder":
        out.mkdir(parents=True)
    elif where == "last-is-folder":
        out.with_name("m.last.npz").mkdir(parents=True)
    elif where == "parent-is-file":
        out.parent.write_text("x")
    else:
        out.parent.mkdir()
        real = tempfile.mkstemp

        def mkstemp(*args, dir=None, **kwargs):
            if Path(dir) == out.parent:
                raise PermissionError(errno.EACCES, os.strerror(errno.EACCES))
            return real(*args, dir=dir, **kwargs)

        monkeypatch.setattr(tempfile, "mkstemp", mkstemp)
    events = []
    with pytest.raises(UsageError, match="cannot write checkpoints"):
        train(PIECES, VALID, MODEL, config(), out, META, on_event=_events(events))
    assert events == []
    assert not [p for p in tmp_path.rglob("*.npz") if p.is_file()]


@pytest.mark.skipif(os.geteuid() == 0, reason="root may write into a read-only folder")
def test_read_only_folder_fails_before_training(tmp_path):
    folder = tmp_path / "ro"
    folder.mkdir()
    folder.chmod(0o555)
    try:
        with pytest.raises(UsageError, match="Permission denied"):
            train(PIECES, VALID, MODEL, config(), folder / "m.npz", META)
    finally:
        folder.chmod(0o755)


def test_full_disk_is_found_before_training(tmp_path, monkeypatch):
    need = checkpoint_bytes(MODEL, "float32", 4)
    events = []
    monkeypatch.setattr(shutil, "disk_usage", lambda p: SimpleNamespace(total=10**12, used=0, free=need - 1))
    with pytest.raises(UsageError, match="not enough disk space"):
        train(PIECES, VALID, MODEL, config(), tmp_path / "m.npz", META, on_event=_events(events))
    assert events == [] and list(tmp_path.iterdir()) == []
    monkeypatch.setattr(shutil, "disk_usage", lambda p: SimpleNamespace(total=10**12, used=0, free=need))
    train(PIECES, VALID, MODEL, config(), tmp_path / "m.npz", META, on_event=_events(events))
    assert events.count("epoch_end") == 4
    # The estimate covers what the run really wrote, plus a file being replaced.
    written = sum(p.stat().st_size for p in tmp_path.iterdir())
    biggest = max(p.stat().st_size for p in tmp_path.iterdir())
    assert written + biggest <= need


def test_a_write_failure_later_keeps_the_previous_checkpoint(tmp_path, monkeypatch):
    reference = tmp_path / "reference" / "m.npz"
    train(PIECES, VALID, MODEL, config(epochs=2), reference, META)
    out = tmp_path / "run" / "m.npz"
    real = np.savez

    def savez(handle, **arrays):  # the disk fills up in epoch 3
        if json.loads(str(arrays["meta"]))["epoch"] >= 3:
            handle.write(b"PK\x03\x04 half a checkpoint")
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
        return real(handle, **arrays)

    with monkeypatch.context() as m:
        m.setattr(np, "savez", savez)
        with pytest.raises(RnnrbmError) as info:
            train(PIECES, VALID, MODEL, config(epochs=4), out, META)
    message = str(info.value)
    assert "No space left on device" in message and "epoch 3" in message and "--resume" in message
    assert f"{out.with_name('m.last.npz')} still holds epoch 2" in message and "\n" not in message
    assert sorted(p.name for p in out.parent.iterdir()) == ["m.last.npz", "m.log.jsonl", "m.npz"]  # no .tmp
    same_run(out, reference)  # epoch 2, intact
    train(PIECES, VALID, MODEL, config(epochs=4), out, META, resume=True)
    train(PIECES, VALID, MODEL, config(epochs=4), reference, META, resume=True)
    same_run(out, reference)


def test_cli_reports_a_failed_write_in_one_line(tmp_path, monkeypatch):
    from tests.test_robust_cli import _no_space_from_epoch, error_line

    songs = _songs(tmp_path)
    monkeypatch.setattr(np, "savez", _no_space_from_epoch(2))
    out = tmp_path / "run" / "m.npz"
    line = error_line(runner.invoke(app, ["train", str(songs), "-o", str(out), "--epochs", "3", *TINY]), 1)
    assert "No space left on device" in line and "still holds epoch 1" in line
    assert load_checkpoint(out.with_name("m.last.npz")).meta["epoch"] == 1


# ------------------------------------------------------------------ numerics

def test_divergence_keeps_the_last_good_checkpoint_untouched(tmp_path):
    out = tmp_path / "m.npz"
    train(PIECES, VALID, MODEL, config(epochs=2), out, META)
    last = out.with_name("m.last.npz")
    ckpt = load_checkpoint(last)  # the same run, but with an absurd learning rate from now on
    ckpt.meta["train"]["lr"] = ckpt.opt["lr"] = 1e6
    save_checkpoint(last, Checkpoint(ckpt.params, ckpt.meta, {k: np.asarray(v) for k, v in ckpt.opt.items()}))
    before = {p.name: p.read_bytes() for p in tmp_path.iterdir()}
    with pytest.raises(RnnrbmError) as info:
        train(PIECES, VALID, MODEL, config(epochs=5), out, META, resume=True)
    message = str(info.value)
    assert message.startswith("training diverged in epoch 3:") and "--lr 1e+06" in message
    assert "too high" in message and f"{last} still holds epoch 2" in message
    assert {p.name: p.read_bytes() for p in tmp_path.iterdir()} == before  # nothing written, no .tmp left
    assert load_checkpoint(last).meta["epoch"] == 2


def test_cli_divergence_is_one_line_and_saves_nothing_non_finite(tmp_path, monkeypatch):
    from tests.test_robust_cli import error_line

    saved = []
    real = rnnrbm.train.save_checkpoint
    monkeypatch.setattr(rnnrbm.train, "save_checkpoint", lambda path, ckpt: (saved.append(ckpt), real(path, ckpt)))
    songs = _songs(tmp_path)
    line = error_line(runner.invoke(app, ["train", str(songs), "-o", str(tmp_path / "run" / "m.npz"),
                                          "--lr", "1e6", "--epochs", "3", *TINY]), 1)
    assert "diverged" in line and "--lr 1e+06" in line and "too high" in line
    assert all(np.isfinite(v).all() for c in saved for v in c.params.values())
    assert all(np.abs(v).max() <= rnnrbm.optim.MAX_ABS_PARAM for c in saved for v in c.params.values())


def test_runaway_weights_stop_training_even_when_finite():
    params = {name: np.zeros(shape, np.float32) for name, shape in MODEL.shapes().items()}
    rnnrbm.optim.check_params(params, "epoch 1")
    params["Wuu"][0, 0] = 2e4
    with pytest.raises(rnnrbm.optim.Diverged, match="Wuu reached 2e"):
        rnnrbm.optim.check_params(params, "epoch 1")
    params["Wuu"][0, 0] = np.nan
    with pytest.raises(rnnrbm.optim.Diverged, match="Wuu"):
        rnnrbm.optim.check_params(params, "epoch 1")


def test_nothing_non_finite_is_ever_saved(tmp_path):
    base = Checkpoint({n: np.zeros(s, np.float32) for n, s in MODEL.shapes().items()},
                      {"low": 60, "high": 71, "model": {"n_visible": V, "n_hidden": 8, "n_recurrent": 6}})
    for broken in (Checkpoint(base.params, base.meta, {"m/W": np.full((V, 8), np.inf)}),
                   Checkpoint(base.params, dict(base.meta, history=[{"train_cost": float("nan")}]))):
        with pytest.raises(RnnrbmError, match="NaN or Inf"):
            save_checkpoint(tmp_path / "m.npz", broken)
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("gradient", ["bptt", "rtrl"])
def test_empty_and_short_pieces_train_and_are_counted(tmp_path, gradient):
    lengths = [0, 1, 3, 0, 7, 40, 2]  # chunks of 8: most pieces are shorter than one
    rng = np.random.default_rng(5)
    pieces = [(rng.random((n, 36)) < 0.15).astype(np.uint8) for n in lengths]
    splits = ["train"] * len(lengths) + ["valid"]
    corpus = tmp_path / "odd.npz"
    Corpus.from_pieces(pieces + [loop_piece(6).repeat(3, axis=1)], [f"p{i}" for i in range(len(splits))], splits,
                       {"low": 60, "high": 95, "steps_per_beat": 4}).save(corpus)
    out = tmp_path / "run" / "m.npz"
    result = runner.invoke(app, ["train", str(corpus), "-o", str(out), "--epochs", "2", *TINY[:-3],
                                 "--gradient", gradient, "--quiet"])
    assert result.exit_code == 0, result.output
    log = [json.loads(line) for line in out.with_name("m.log.jsonl").read_text().splitlines()]
    assert [(r["pieces"], r["frames"]) for r in log] == [(5, sum(lengths))] * 2
    assert all(np.isfinite(r["train_cost"]) and r["valid_acc"] is not None for r in log)
    assert load_checkpoint(out).meta["epoch"] >= 1 and load_checkpoint(out.with_name("m.last.npz")).meta["epoch"] == 2


def test_all_empty_training_pieces_are_a_clear_error(tmp_path):
    with pytest.raises(RnnrbmError, match="every training piece is empty"):
        train([np.zeros((0, V), np.uint8)] * 3, VALID, MODEL, config(), tmp_path / "m.npz", META)


# ------------------------------------------------------------------ resume state

def test_ctrl_c_checkpoint_is_a_valid_resume_state(tmp_path, monkeypatch):
    from tests.test_robust_cli import interrupt_on_call

    out = tmp_path / "m.npz"
    with monkeypatch.context() as m:  # Ctrl-C in the middle of epoch 3
        m.setattr(rnnrbm.train, "_update", interrupt_on_call(rnnrbm.train._update, 12))
        result = train(PIECES, VALID, MODEL, config(), out, META)
    assert result.interrupted
    last = load_resume(out.with_name("m.last.npz"))
    assert last.meta["interrupted"] and last.meta["epoch"] == len(last.meta["history"]) == 2
    assert [h["epoch"] for h in train(PIECES, VALID, MODEL, config(), out, META, resume=True).history] == [1, 2, 3, 4]


@pytest.mark.parametrize("damage", ["no-rng", "no-optimizer", "optimizer-shape", "history", "train-config"])
def test_a_damaged_training_state_cannot_be_resumed(tmp_path, damage):
    out = tmp_path / "m.npz"
    train(PIECES, VALID, MODEL, config(epochs=1), out, META)
    last = out.with_name("m.last.npz")
    ckpt = load_checkpoint(last)
    meta, opt = dict(ckpt.meta), dict(ckpt.opt)
    if damage == "no-rng":
        del meta["rng"]
    elif damage == "no-optimizer":
        opt = {}
    elif damage == "optimizer-shape":
        opt["m/W"] = np.zeros((2, 2))
    elif damage == "history":
        meta["history"] = []
    else:
        meta["train"] = dict(meta["train"], cd_k="fifteen")
    save_checkpoint(last, Checkpoint(ckpt.params, meta, opt))
    with pytest.raises(RnnrbmError, match="cannot resume from .*training state is incomplete or damaged") as info:
        train(PIECES, VALID, MODEL, config(epochs=2), out, META, resume=True)
    assert "\n" not in str(info.value) and type(info.value) is RnnrbmError


TINY = ["--hidden", "8", "--recurrent", "4", "--cd-k", "1", "--batch", "2", "--chunk", "8", "--gradient", "bptt",
        "--quiet"]


def _songs(tmp_path: Path) -> Path:
    from rnnrbm.midi import write_midi

    folder = tmp_path / "songs"
    folder.mkdir()
    for i in range(4):
        roll = np.zeros((32, 36), np.uint8)
        roll[np.arange(32), (np.arange(32) // 4 * (i + 2)) % 36] = 1
        write_midi(roll, folder / f"s{i}.mid", low=60, steps_per_beat=4)
    return folder
