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
"""

from __future__ import annotations

import json
import time
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import Callable

import numpy as np
from threadpoolctl import threadpool_limits

from rnnrbm.batches import epoch_chunks, random_songs
from rnnrbm.checkpoint import Checkpoint, load_checkpoint, save_checkpoint
from rnnrbm.errors import RnnrbmError, UsageError
from rnnrbm.gradients import chunk_gradient, init_state
from rnnrbm.metrics import frame_accuracy
from rnnrbm.config import ModelConfig, TrainConfig
from rnnrbm.model import PARAM_NAMES, init_params
from rnnrbm.optim import Adam

RBM_PART = ("W", "bv", "bh")


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
    """Fail before any work if checkpoints cannot be written beside ``out``."""
    try:
        out.parent.mkdir(parents=True, exist_ok=True)
        probe = out.parent / f".{out.name}.write-test"
        probe.write_bytes(b"x")
        probe.unlink()
    except OSError as exc:
        raise UsageError(f"cannot write checkpoints to {out.parent} ({exc.strerror}); choose another -o path") from None


def _rng_state(rng: np.random.Generator) -> dict:
    return rng.bit_generator.state


def _check_finite(grads: dict[str, np.ndarray], cost: float, epoch: int, config: TrainConfig) -> None:
    bad = [k for k, g in grads.items() if not np.all(np.isfinite(g))]
    if bad or not np.isfinite(cost):
        raise RnnrbmError(
            f"training diverged in epoch {epoch}: non-finite {'gradient of ' + ', '.join(bad) if bad else 'cost'}. "
            f"The learning rates (--lr {config.lr}, --lr-rnn {config.lr_rnn}) are probably too high; "
            "the last good checkpoint was kept")


def pretrain_rbm(params: dict[str, np.ndarray], frames: list[np.ndarray], config: TrainConfig,
                 rng: np.random.Generator, on_event: Callable | None = None) -> None:
    """RBM pretraining on single frames (W, bv, bh), as in the 2012 paper.

    Each frame is treated as a one-step piece, so the same CD-k gradient applies.
    """
    data = np.concatenate([f for f in frames if len(f)]).astype(params["W"].dtype)
    opt = Adam(params, config.lr, config.lr_rnn, config.clip)
    size = 100
    for epoch in range(1, config.pretrain_epochs + 1):
        order = rng.permutation(len(data))
        for start in range(0, len(data), size):
            v = data[order[start:start + size]][:, None, :]
            ones = np.ones(v.shape[:2], dtype=bool)
            g, _, stats = chunk_gradient(params, v, ones, ones, init_state(params, len(v), False),
                                         config.cd_k, rng, "bptt")
            grads = {k: (g[k] / stats["frames"] if k in RBM_PART else np.zeros_like(g[k])) for k in PARAM_NAMES}
            _check_finite(grads, stats["cost"], 0, config)
            opt.step(params, grads)
        if on_event:
            on_event("pretrain", {"epoch": epoch, "epochs": config.pretrain_epochs})


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
                                     config.gradient)
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
    _check_finite(grads, stats["cost"], epoch, config)
    opt.step(params, grads)
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
        ckpt = load_checkpoint(last_path)
        meta = ckpt.meta
        config = replace(TrainConfig(**meta["train"]), epochs=config.epochs, max_minutes=config.max_minutes)
        if ckpt.model_config != model_config or any(meta.get(k) != data_meta.get(k) for k in ("low", "high", "steps_per_beat")):
            raise UsageError(f"{last_path} was trained with another model size, range or grid than the data given")
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
        if config.pretrain_epochs:
            pretrain_rbm(params, train_pieces, config, rng, emit)
        opt = Adam(params, config.lr, config.lr_rnn, config.clip)
        history, epoch0, best_acc, bad_epochs = [], 0, None, 0
        log_path.unlink(missing_ok=True)

    def meta_now(epoch: int, **extra) -> dict:
        return dict(data_meta, model=asdict(model_config), train=asdict(config), epoch=epoch, history=history,
                    best_valid_acc=best_acc, bad_epochs=bad_epochs, **extra)

    dtype = np.dtype(config.dtype)
    rtrl = config.gradient == "rtrl"
    total_frames = int(sum(len(p) for p in train_pieces))
    result = TrainResult(out, last_path, history)
    epoch = epoch0
    # Overflow on divergence is reported once, clearly, by _check_finite: no NumPy warnings.
    with np.errstate(over="ignore", invalid="ignore"):
        try:
            for epoch in range(epoch0 + 1, config.epochs + 1):
                emit("epoch_start", {"epoch": epoch, "epochs": config.epochs, "frames": total_frames})
                t0 = time.perf_counter()
                state = init_state(params, config.batch, rtrl)
                cost_sum = frames_sum = 0.0
                for chunk in epoch_chunks(train_pieces, config.batch, config.chunk, rng, dtype):
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
                    opt.lr *= config.lr_decay  # a plateau: smaller steps settle into it
                    opt.lr_rnn *= config.lr_decay
                record = {"epoch": epoch, "train_cost": cost_sum / max(frames_sum, 1), "valid_acc": valid_acc,
                          "seconds": seconds, "steps_per_s": frames_sum / seconds, "best": improved, "lr": opt.lr,
                          "elapsed": time.perf_counter() - started}
                history.append(record)
                save_checkpoint(last_path, Checkpoint(params, meta_now(epoch, rng=_rng_state(rng)), opt.state_dict()))
                if improved:
                    save_checkpoint(out, Checkpoint(params, meta_now(epoch)))
                with open(log_path, "a") as f:
                    f.write(json.dumps(record) + "\n")
                emit("epoch_end", record)
                if valid_acc is not None and bad_epochs >= config.patience:
                    result.stopped_early = True
                    break
                if config.max_minutes and record["elapsed"] >= 60 * config.max_minutes:
                    result.out_of_time = True
                    break
        except KeyboardInterrupt:
            # Keep the interrupted state too: --resume goes on from it (not bit-exact mid-epoch).
            save_checkpoint(last_path, Checkpoint(params, meta_now(epoch - 1, rng=_rng_state(rng), interrupted=True),
                                                  opt.state_dict()))
            if not out.exists():
                save_checkpoint(out, Checkpoint(params, meta_now(epoch - 1)))
            result.interrupted = True
    return result


def train_on_files(paths: list[Path], ingest_config, model_config: ModelConfig | None, config: TrainConfig,
                   out: str | Path, resume: bool = False, jobs: int = 1, on_event: Callable | None = None,
                   progress=None) -> TrainResult:
    """Load training data from any input form (corpus .npz, JSON, MIDI files/folders) and :func:`train`.

    ``model_config`` gives the hidden and recurrent sizes; ``n_visible`` is set
    from the data's pitch range. ``progress`` is passed to the ingest of MIDI files.
    """
    from rnnrbm.ingest import load_pieces

    config.check()
    check_writable(Path(out))
    corpus = load_pieces([Path(p) for p in paths], ingest_config, jobs=jobs, progress=progress)
    model_config = replace(model_config or ModelConfig(), n_visible=corpus.n_visible)
    meta = {key: corpus.meta.get(key) for key in ("low", "high", "steps_per_beat", "out_of_range")}
    meta["qpm"] = corpus.meta.get("qpm") or 100.0
    meta["ingest"] = corpus.meta.get("ingest", {})
    train_pieces = corpus.pieces("train")
    if not any(len(p) for p in train_pieces):
        raise RnnrbmError(f"no training pieces: all {len(corpus)} piece(s) fell in the valid/test splits; "
                          "lower --valid-fraction/--test-fraction or add more music")
    return train(train_pieces, corpus.pieces("valid"), model_config, config, out, meta, resume, on_event)
