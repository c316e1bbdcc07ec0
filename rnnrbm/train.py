"""Training loop: CD-k + exact RTRL (or BPTT), the negative-gradient regularizer, checkpoints.

Every update takes one chunk of B streams x L steps from the training pieces
(see :mod:`rnnrbm.batches`), computes the per-frame gradient of the surrogate
CD-k cost, and, with weight lambda > 0, subtracts lambda times the gradient of
fresh random dense songs (each note on with probability p > 0.5). Those songs
are whole pieces inside one chunk, so BPTT gives exactly their RTRL gradient
(tests check RTRL == BPTT) at a fraction of the cost.

Files written beside ``out`` (say ``model.npz``):

* ``model.npz``: the parameters with the best validation accuracy so far;
* ``model.last.npz``: the latest epoch, with optimizer and RNG state for ``--resume``;
* ``model.log.jsonl``: one JSON record per epoch.

Each epoch ends by saving ``model.npz`` (if it improved), then ``model.last.npz``,
then rewriting the log, each atomically. A process killed at any moment (even
SIGKILL) thus leaves loadable files, ``model.last.npz`` from the last completed
epoch, and a best model never older than that state: ``--resume`` replays at most
the epoch that was cut short, exactly. Output problems (an unwritable folder, too
little disk space) are reported before training starts; a write that fails later,
or a run that diverges, stops with one message and keeps the last good files.
"""

from __future__ import annotations

import json
import os
import re
import tempfile
import time
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import Callable

import numpy as np
from threadpoolctl import threadpool_limits

from rnnrbm.batches import epoch_chunks, random_songs
from rnnrbm.checkpoint import Checkpoint, check_free_space, check_same_setup, load_resume, save_checkpoint
from rnnrbm.config import ModelConfig, TrainConfig
from rnnrbm.corpus import atomic_write
from rnnrbm.errors import RnnrbmError, UsageError
from rnnrbm.gradients import chunk_gradient, init_state
from rnnrbm.metrics import frame_accuracy
from rnnrbm.model import PARAM_NAMES, init_params
from rnnrbm.optim import Adam, Diverged, check_finite, check_params
from rnnrbm.pretrain import pretrain_rbm, pretrain_rnn


@dataclass
class TrainResult:
    best_path: Path
    last_path: Path
    history: list[dict]
    interrupted: bool = False
    stopped_early: bool = False
    out_of_time: bool = False


def sibling_paths(out: Path) -> tuple[Path, Path]:
    """``model.npz`` -> (``model.last.npz``, ``model.log.jsonl``)."""
    stem = out.name[:-4] if out.name.endswith(".npz") else out.name
    return out.with_name(stem + ".last.npz"), out.with_name(stem + ".log.jsonl")


def check_writable(out: Path) -> None:
    """Fail before any work if the checkpoints cannot be written as ``out`` and beside it."""
    out = Path(out)
    for path in (out, *sibling_paths(out)):
        if path.is_dir():
            raise UsageError(f"cannot write checkpoints: {path} is a folder; give -o a file name such as "
                             f"{path / 'model.npz'}")
    try:
        out.parent.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        blocker = next((p for p in out.parents if p.exists()), None)
        reason = f"{blocker} is a file" if blocker is not None and not blocker.is_dir() else exc.strerror
        raise UsageError(f"cannot write checkpoints to {out.parent}: cannot make that folder ({reason}); "
                         "choose another -o path") from None
    try:  # a probe named like atomic_write's temporary files, so a kill here leaves nothing new
        fd, probe = tempfile.mkstemp(prefix=f".{out.name}.", suffix=".tmp", dir=out.parent)
        os.close(fd)
        os.unlink(probe)
    except OSError as exc:
        raise UsageError(f"cannot write checkpoints to {out.parent} ({exc.strerror}); choose another -o path") from None


def checkpoint_bytes(model_config: ModelConfig, dtype: str, epochs: int) -> int:
    """Disk space a run needs at its peak: both checkpoints, the log, and one file being replaced."""
    shapes = model_config.shapes()
    n = sum(int(np.prod(shape)) for shape in shapes.values())
    meta = 8192 + 400 * epochs  # settings, RNG state, one history record per epoch (also the log's size)
    headers = 256 * (len(shapes) + 1)  # zip and .npy headers of each array
    best = n * np.dtype(dtype).itemsize + headers + meta
    last = best + 16 * n + 2 * headers + 1024  # Adam's two float64 moments and step count
    return best + last + max(best, last) + meta  # an atomic save holds the old and the new file at once


def _remove_stale_temps(out: Path) -> None:
    """Delete temporary files that a killed run left beside ``out`` (atomic_write's naming only)."""
    names = [re.escape(p.name) for p in (out, *sibling_paths(out))]
    stale = re.compile(rf"\.({'|'.join(names)})\.[A-Za-z0-9_]{{8}}\.tmp")
    for path in out.parent.iterdir():
        if stale.fullmatch(path.name):
            path.unlink(missing_ok=True)


def _write_log(log_path: Path, history: list[dict]) -> None:
    """The whole log, rewritten atomically: it always matches a checkpoint's history, never half a line."""
    text = "".join(json.dumps(record) + "\n" for record in history)
    atomic_write(log_path, lambda handle: handle.write(text.encode()))


def _rng_state(rng: np.random.Generator) -> dict:
    return rng.bit_generator.state


def train(train_pieces: list[np.ndarray], valid_pieces: list[np.ndarray], model_config: ModelConfig,
          config: TrainConfig, out: str | Path, data_meta: dict, resume: bool = False,
          on_event: Callable[[str, dict], None] | None = None) -> TrainResult:
    """Train an RNN-RBM and write checkpoints (see the module docstring).

    BLAS runs single-threaded throughout: the per-step products are small, and
    OpenBLAS threads that spin-wait made them up to 25x slower on a busy machine.
    The one large RTRL product is split over cores by stream instead
    (:func:`rnnrbm.gradients.rtrl_recurrent`).

    Parameters
    ----------
    train_pieces, valid_pieces : lists of (T, n_visible) binary arrays.
    data_meta : low, high, steps_per_beat, out_of_range, qpm, ingest, stored in every checkpoint.
    resume : continue from ``<out>.last.npz`` with its saved configuration
        (``config.epochs`` may extend the run).
    on_event : called as ``on_event(kind, info)`` with kinds "pretrain", "epoch_start",
        "update" and "epoch_end"; the CLI draws progress from these.
    """
    with threadpool_limits(limits=1, user_api="blas"):
        return _train(train_pieces, valid_pieces, model_config, config, out, data_meta, resume, on_event)


def _update(params: dict[str, np.ndarray], opt: Adam, chunk, state, config: TrainConfig,
            rng: np.random.Generator, epoch: int):
    """One parameter update from one chunk: per-frame data gradient minus lambda times that of random songs."""
    g, state, stats = chunk_gradient(params, chunk.v, chunk.first, chunk.valid, state, config.cd_k, rng,
                                     config.gradient, cd_start=config.cd_start)
    n = stats["frames"]
    if n == 0:
        return state, stats
    grads = {k: g[k] / n for k in PARAM_NAMES}
    if config.negative_weight > 0 and config.negative_batch > 0:
        neg = random_songs(config.negative_batch, config.chunk, chunk.v.shape[2], config.negative_p, rng,
                           chunk.v.dtype)
        ng, _, nstats = chunk_gradient(params, neg.v, neg.first, neg.valid,
                                       init_state(params, config.negative_batch, False), config.cd_k, rng, "bptt")
        for k in PARAM_NAMES:
            grads[k] -= config.negative_weight * ng[k] / nstats["frames"]
    check_finite(grads, stats["cost"], f"epoch {epoch}")
    opt.step(params, grads)
    check_params(params, f"epoch {epoch}")
    return state, stats


def _train(train_pieces, valid_pieces, model_config, config, out, data_meta, resume, on_event) -> TrainResult:
    out = Path(out)
    last_path, log_path = sibling_paths(out)
    config.check()
    check_writable(out)
    if not any(len(p) for p in train_pieces):
        raise RnnrbmError("no training data: every training piece is empty")
    emit = on_event or (lambda kind, info: None)
    started = time.perf_counter()

    if resume:
        ckpt = load_resume(last_path)
        check_same_setup(ckpt, last_path, model_config, data_meta)
        meta = ckpt.meta
        config = replace(TrainConfig(**meta["train"]), epochs=config.epochs, max_minutes=config.max_minutes)
        params = ckpt.params
        opt = Adam(params, config.lr, config.lr_rnn, config.clip)
        opt.load_state_dict(ckpt.opt)
        rng = np.random.default_rng()
        rng.bit_generator.state = meta["rng"]
        history, epoch0 = list(meta["history"]), int(meta["epoch"])
        started -= history[-1].get("elapsed", 0.0) if history else 0.0  # the budget spans resumed runs
        best_acc, bad_epochs = meta.get("best_valid_acc"), int(meta.get("bad_epochs", 0))
    else:
        rng = np.random.default_rng(config.seed)
        params = init_params(model_config, rng, dtype=np.dtype(config.dtype))
        opt = Adam(params, config.lr, config.lr_rnn, config.clip)
        history, epoch0, best_acc, bad_epochs = [], 0, None, 0
    check_free_space(out.parent, checkpoint_bytes(model_config, config.dtype, config.epochs), "the checkpoints")
    _remove_stale_temps(out)
    if resume:  # a kill between the checkpoint and the log left the log one epoch behind
        _write_log(log_path, history)

    def meta_now(epoch: int, **extra) -> dict:
        return dict(data_meta, model=asdict(model_config), train=asdict(config), epoch=epoch, history=history,
                    best_valid_acc=best_acc, bad_epochs=bad_epochs, **extra)

    def kept(saved: int) -> str:
        return f"{last_path} still holds epoch {saved}" if saved else "no checkpoint was saved"

    dtype = np.dtype(config.dtype)
    rtrl = config.gradient == "rtrl"
    used = [p for p in train_pieces if len(p)]
    total_frames = int(sum(len(p) for p in used))
    result = TrainResult(out, last_path, history)
    epoch = saved = epoch0
    # Overflow on divergence is reported once, clearly, by the checks in _update: no NumPy warnings.
    with np.errstate(over="ignore", invalid="ignore"):
        try:
            if not resume and config.pretrain_rnn_epochs:  # first, so the RBM learns bv around u0's bias
                pretrain_rnn(params, train_pieces, config, rng, emit)
            if not resume and config.pretrain_epochs:
                pretrain_rbm(params, train_pieces, config, rng, emit)
            for epoch in range(epoch0 + 1, config.epochs + 1):
                emit("epoch_start", {"epoch": epoch, "epochs": config.epochs, "frames": total_frames})
                t0 = time.perf_counter()
                state = init_state(params, config.batch, rtrl)
                cost_sum = frames_sum = 0.0
                for chunk in epoch_chunks(used, config.batch, config.chunk, rng, dtype):
                    state, stats = _update(params, opt, chunk, state, config, rng, epoch)
                    cost_sum += stats["cost"]
                    frames_sum += stats["frames"]
                    if stats["frames"]:
                        emit("update", {"frames": stats["frames"], "cost": stats["cost"] / stats["frames"]})
                seconds = time.perf_counter() - t0
                valid_rng = np.random.default_rng([config.seed, epoch])  # evaluation never shifts training randomness
                valid_acc = (frame_accuracy(params, valid_pieces, config.valid_gibbs, config.valid_samples, valid_rng)
                             if any(len(p) for p in valid_pieces) else None)
                improved = best_acc is None or (valid_acc is not None and valid_acc > best_acc)
                if improved:
                    best_acc, bad_epochs = valid_acc, 0
                else:
                    bad_epochs += 1
                # Smaller steps settle into a plateau; a scheduled decay settles wherever the run has got to,
                # without waiting on the noisy valid ACC estimate.
                if (epoch >= config.lr_decay_from) if config.lr_decay_from else not improved:
                    opt.lr *= config.lr_decay
                    opt.lr_rnn *= config.lr_decay
                record = {"epoch": epoch, "train_cost": cost_sum / max(frames_sum, 1), "valid_acc": valid_acc,
                          "pieces": len(used), "frames": int(frames_sum), "seconds": seconds,
                          "steps_per_s": frames_sum / seconds, "best": improved, "lr": opt.lr,
                          "elapsed": time.perf_counter() - started}
                history.append(record)
                try:  # best first: a kill before the next save replays this epoch, which saves it again
                    if improved:
                        save_checkpoint(out, Checkpoint(params, meta_now(epoch)))
                    save_checkpoint(last_path, Checkpoint(params, meta_now(epoch, rng=_rng_state(rng)),
                                                          opt.state_dict()))
                    saved = epoch
                    _write_log(log_path, history)
                except RnnrbmError as exc:
                    then = " and continue with --resume" if saved else " and run again"
                    raise RnnrbmError(f"{exc}; training stopped in epoch {epoch} and {kept(saved)}: fix that{then}") \
                        from None
                emit("epoch_end", record)
                if valid_acc is not None and bad_epochs >= config.patience:
                    result.stopped_early = True
                    break
                if config.max_minutes and record["elapsed"] >= 60 * config.max_minutes:
                    result.out_of_time = True
                    break
        except Diverged as exc:
            raise RnnrbmError(f"{exc}. The learning rates are probably too high (--lr {config.lr:g}, --lr-rnn "
                              f"{config.lr_rnn:g}): try 10 times smaller ones; "
                              f"{kept(saved)}") from None
        except KeyboardInterrupt:
            # Keep the interrupted state too: --resume goes on from it (not bit-exact mid-epoch).
            done = history[-1]["epoch"] if history else 0  # the epoch whose record is complete
            save_checkpoint(last_path, Checkpoint(params, meta_now(done, rng=_rng_state(rng), interrupted=True),
                                                  opt.state_dict()))
            if not out.exists():
                save_checkpoint(out, Checkpoint(params, meta_now(done)))
            result.interrupted = True
    return result


def train_on_files(paths: list[Path], ingest_config, model_config: ModelConfig | None, config: TrainConfig,
                   out: str | Path, resume: bool = False, jobs: int = 1, on_event: Callable | None = None,
                   progress=None) -> TrainResult:
    """Load training data from any input form (corpus .npz, JSON, MIDI files/folders) and :func:`train`.

    ``model_config`` gives the hidden and recurrent sizes; ``n_visible`` is set
    from the data's pitch range. ``progress`` is passed to the ingest of MIDI files.
    ``on_event`` also gets kind "skipped", with a one-line ``summary``, if inputs were skipped.
    """
    from rnnrbm.ingest import load_pieces, skip_summary

    config.check()
    check_writable(Path(out))
    if resume:  # a missing or damaged training state is found before a long ingest
        load_resume(sibling_paths(Path(out))[0])
    corpus, report = load_pieces([Path(p) for p in paths], ingest_config, jobs=jobs, progress=progress)
    if on_event and (summary := skip_summary(report.skip_counts)):
        on_event("skipped", {"summary": summary})
    model_config = replace(model_config or ModelConfig(), n_visible=corpus.n_visible)
    meta = {key: corpus.meta.get(key) for key in ("low", "high", "steps_per_beat", "out_of_range")}
    meta["qpm"] = corpus.meta.get("qpm") or 100.0
    meta["ingest"] = corpus.meta.get("ingest", {})
    train_pieces = corpus.pieces("train")
    if not any(len(p) for p in train_pieces):
        raise RnnrbmError(f"no training pieces: all {len(corpus)} piece(s) fell in the valid/test splits; "
                          "lower --valid-fraction/--test-fraction or add more music")
    return train(train_pieces, corpus.pieces("valid"), model_config, config, out, meta, resume, on_event)
