"""Checkpoint files: a plain ``.npz`` that anyone can read with NumPy, never pickled.

Layout (format "rnnrbm", version 1):

* ``W, bv, bh, Wuv, Wuh, Wvu, Wuu, bu, u0``: the parameters, float32 or float64.
* ``meta``: a 0-d unicode array holding JSON::

      {"format": "rnnrbm", "version": 1,
       "low": 60, "high": 95, "steps_per_beat": 4, "out_of_range": "fold", "qpm": 100.0,
       "model": {"n_visible": ..., "n_hidden": ..., "n_recurrent": ...},
       "ingest": {...}, "train": {...}, "epoch": 3, "history": [{...}, ...]}

* ``opt/...``: optimizer moments and RNG state for an exact ``--resume`` (optional).

Saves are atomic (temporary file in the same folder, then ``os.replace``), so a
crash or SIGKILL mid-write leaves the previous checkpoint intact. Loads never
unpickle, and every way a file can be broken (truncated, bit-flipped, another
version, wrong shapes or types, NaN) is one :class:`~rnnrbm.errors.RnnrbmError`.
:func:`load_resume` also checks the training state ``--resume`` needs, and
:func:`check_free_space` lets long jobs find a full disk before they start.
"""

from __future__ import annotations

import json
import shutil
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path

import numpy as np

from rnnrbm.config import TrainConfig
from rnnrbm.corpus import atomic_write
from rnnrbm.errors import RnnrbmError, UsageError
from rnnrbm.model import PARAM_NAMES, ModelConfig
from rnnrbm.optim import Adam

FORMAT = "rnnrbm"
VERSION = 1
OPT_PREFIX = "opt/"
FIX = "use another checkpoint or re-train with 'rnnrbm train'"  # what to do about any damaged file


@dataclass
class Checkpoint:
    """Parameters, metadata and (optionally) optimizer state of a saved model."""

    params: dict[str, np.ndarray]
    meta: dict
    opt: dict[str, np.ndarray] = field(default_factory=dict)

    @property
    def model_config(self) -> ModelConfig:
        return ModelConfig(**self.meta["model"])


def save_checkpoint(path: str | Path, ckpt: Checkpoint) -> None:
    """Write ``ckpt`` atomically to ``path``; refuses any NaN or Inf (parameters, optimizer state, metadata)."""
    path = Path(path)
    arrays = {name: np.ascontiguousarray(ckpt.params[name]) for name in PARAM_NAMES}
    arrays.update({OPT_PREFIX + k: np.asarray(v) for k, v in ckpt.opt.items()})
    for name, value in arrays.items():
        if value.dtype.kind in "fc" and not np.all(np.isfinite(value)):
            what = f"optimizer state {name[len(OPT_PREFIX):]}" if name.startswith(OPT_PREFIX) else f"parameter {name}"
            raise RnnrbmError(f"refusing to save {path}: {what} has NaN or Inf values")
    try:
        text = json.dumps(dict(ckpt.meta, format=FORMAT, version=VERSION), allow_nan=False)
    except ValueError:
        raise RnnrbmError(f"refusing to save {path}: its metadata holds NaN or Inf") from None
    arrays["meta"] = np.array(text)
    path.parent.mkdir(parents=True, exist_ok=True)
    atomic_write(path, lambda handle: np.savez(handle, **arrays))


def load_checkpoint(path: str | Path) -> Checkpoint:
    """Read and validate a checkpoint; any problem is one clear :class:`RnnrbmError`."""
    path = Path(path)
    if not path.is_file():
        raise RnnrbmError(f"checkpoint {path} not found: train one with 'rnnrbm train' or pass -m MODEL.npz")
    try:
        with open(path, "rb") as handle:
            if handle.read(4) not in (b"PK\x03\x04", b"PK\x05\x06"):  # np.load would talk about pickles
                raise ValueError("not an .npz archive")
        with np.load(path, allow_pickle=False) as z:
            data = {k: z[k] for k in z.files}
    except Exception as exc:  # any parse failure of a damaged file is the same user-facing problem
        detail = " ".join(str(exc).split())[:200]  # one line, whatever the parser said
        raise RnnrbmError(f"{path} is not a readable rnnrbm checkpoint ({type(exc).__name__}: {detail}); "
                          f"it is truncated, damaged or not a checkpoint: {FIX}") from None
    if "meta" not in data:
        raise RnnrbmError(f"{path} is not an rnnrbm checkpoint (no 'meta' entry): {FIX}")
    try:
        meta = json.loads(str(data.pop("meta")))
    except (json.JSONDecodeError, ValueError) as exc:
        raise RnnrbmError(f"{path}: checkpoint metadata is not valid JSON ({exc}): {FIX}") from None
    if not isinstance(meta, dict) or meta.get("format") != FORMAT:
        found = meta.get("format") if isinstance(meta, dict) else type(meta).__name__
        raise RnnrbmError(f"{path} is not an rnnrbm checkpoint (format {found!r}): {FIX}")
    if meta.get("version") != VERSION:
        raise RnnrbmError(f"{path} has checkpoint version {meta.get('version')!r}; this rnnrbm reads version "
                          f"{VERSION}: {FIX}, or use the rnnrbm release that wrote it")
    problem = _meta_problem(meta)
    if problem:
        raise RnnrbmError(f"{path}: damaged checkpoint metadata ({problem}): {FIX}")
    config = ModelConfig(**meta["model"])
    params = {}
    for name, shape in config.shapes().items():
        if name not in data and shape == (0,):  # files from before the count bias existed
            continue
        if name not in data:
            raise RnnrbmError(f"{path}: checkpoint is missing parameter {name}: {FIX}")
        arr = data[name]
        if arr.shape != shape or arr.dtype not in (np.float32, np.float64):
            raise RnnrbmError(f"{path}: parameter {name} has shape {arr.shape} and dtype {arr.dtype}, "
                              f"expected {shape} float32/float64: {FIX}")
        if not np.all(np.isfinite(arr)):
            raise RnnrbmError(f"{path}: parameter {name} contains NaN or Inf: {FIX}")
        params[name] = np.ascontiguousarray(arr)
    if len({a.dtype for a in params.values()}) != 1:
        raise RnnrbmError(f"{path}: parameters have mixed dtypes: {FIX}")
    params.setdefault("bn", np.zeros(0, params["W"].dtype))
    params = {name: params[name] for name in PARAM_NAMES}
    opt = {k[len(OPT_PREFIX):]: v for k, v in data.items() if k.startswith(OPT_PREFIX)}
    return Checkpoint(params, meta, opt)


def _count(value, low: int = 0) -> bool:
    """True for an int (not a bool) of at least ``low``."""
    return isinstance(value, int) and not isinstance(value, bool) and value >= low


def _meta_problem(meta: dict) -> str | None:
    """What is wrong with the types and ranges of a checkpoint's metadata, or None.

    Everything later code reads from ``meta`` is checked here, so a hand-edited or
    damaged file is one clear error at load time, not a TypeError deep in sampling.
    """
    model = meta.get("model")
    sizes = {k: v for k, v in model.items() if k != "count_bias"} if isinstance(model, dict) else None
    if sizes is None or sorted(sizes) != ["n_hidden", "n_recurrent", "n_visible"] \
            or not all(_count(v, 1) for v in sizes.values()):
        return "'model' must hold positive n_visible, n_hidden and n_recurrent"
    if not isinstance(model.get("count_bias", False), bool):
        return "'model' count_bias must be true or false"
    if "low" in meta or "high" in meta:
        low, high = meta.get("low"), meta.get("high")
        if not (_count(low) and _count(high) and low <= high <= 127):
            return f"pitch range low={low!r} high={high!r} is not 0 <= low <= high <= 127"
        if high - low + 1 != model["n_visible"]:
            return f"pitch range {low}..{high} does not match n_visible={model['n_visible']}"
    if meta.get("steps_per_beat") is not None and not _count(meta["steps_per_beat"], 1):
        return f"steps_per_beat={meta['steps_per_beat']!r} is not a positive integer"
    qpm = meta.get("qpm")
    if qpm is not None and (isinstance(qpm, bool) or not isinstance(qpm, (int, float)) or not 0 < qpm < 1e6):
        return f"qpm={qpm!r} is not a positive number"
    for key, kind in (("out_of_range", str), ("ingest", dict), ("train", dict), ("history", list)):
        if meta.get(key) is not None and not isinstance(meta[key], kind):
            return f"'{key}' is not a {kind.__name__}"
    if "epoch" in meta and not _count(meta["epoch"]):
        return f"epoch={meta['epoch']!r} is not a count"
    return None


def check_free_space(folder: Path, needed: int, what: str) -> None:
    """Raise :class:`UsageError` when ``folder`` has less than ``needed`` bytes free.

    Called before long work that writes files, so a full disk is found at once
    instead of hours later.
    """
    try:
        free = shutil.disk_usage(folder).free
    except OSError:
        return  # cannot tell (e.g. an exotic filesystem); the writes themselves still fail cleanly
    if free < needed:
        raise UsageError(f"not enough disk space in {folder}: {_size(free)} free, but {what} need about "
                         f"{_size(needed)}; free some space or write somewhere else")


def _size(n: float) -> str:
    """``1234567`` -> ``"1.2 MB"``."""
    if n < 1000:
        return f"{n:.0f} bytes"
    for unit in ("kB", "MB", "GB"):
        n /= 1000
        if n < 1000:
            break
    return f"{n:.1f} {unit}"


def load_resume(last_path: Path) -> Checkpoint:
    """``<out>.last.npz``, checked to hold a complete training state, for ``--resume``."""
    last_path = Path(last_path)
    if not last_path.exists():
        raise UsageError(f"nothing to resume: {last_path} does not exist; run without --resume to start training")
    ckpt = load_checkpoint(last_path)
    meta = ckpt.meta
    try:
        config = TrainConfig(**meta["train"])
        config.check()
        np.random.default_rng().bit_generator.state = meta["rng"]
        Adam(ckpt.params, config.lr, config.lr_rnn, config.clip).load_state_dict(ckpt.opt)
        for name, value in ckpt.params.items():
            for moment in ("m", "v"):
                if np.shape(ckpt.opt[f"{moment}/{name}"]) != value.shape:
                    raise ValueError(f"optimizer state {moment}/{name} has the wrong shape")
        history = meta["history"]
        if len(history) != meta["epoch"] or not all(isinstance(h, dict) for h in history):
            raise ValueError(f"history has {len(history)} records for epoch {meta['epoch']}")
    except (KeyError, TypeError, ValueError, RnnrbmError) as exc:
        detail = " ".join(f"{type(exc).__name__}: {exc}".split())[:200]
        raise RnnrbmError(f"cannot resume from {last_path}: its training state is incomplete or damaged "
                          f"({detail}); start a new run with another -o") from None
    return ckpt


def _setup(meta: dict, model_config: ModelConfig) -> str:
    """``C4-B6 (36 keys) at 4 steps per beat, 150 hidden and 100 recurrent units``."""
    from rnnrbm.notes import note_name

    low, high = meta.get("low"), meta.get("high")
    keys = f"{note_name(low)}-{note_name(high)} ({high - low + 1} keys)" if low is not None and high is not None \
        else f"{model_config.n_visible} keys"
    return (f"{keys} at {meta.get('steps_per_beat')} steps per beat, {model_config.n_hidden} hidden and "
            f"{model_config.n_recurrent} recurrent units" + (", a count bias" if model_config.count_bias else ""))


def check_same_setup(ckpt: Checkpoint, last_path: Path, model_config: ModelConfig, data_meta: dict) -> None:
    """Raise :class:`UsageError` unless data and sizes are those ``ckpt`` was trained with."""
    keys = ("low", "high", "steps_per_beat")
    if ckpt.model_config != model_config or any(ckpt.meta.get(k) != data_meta.get(k) for k in keys):
        raise UsageError(f"cannot resume {last_path}: it was trained on {_setup(ckpt.meta, ckpt.model_config)}, "
                         f"but this run has {_setup(data_meta, model_config)}; give the same data and options "
                         "(--low/--high/--range, --steps-per-beat, --hidden, --recurrent, --count-bias) or start a new "
                         "run with another -o")


def default_model_path() -> Path:
    """The shipped checkpoint, ``default.npz`` of the installed package ``rnnrbm.models``."""
    return Path(str(resources.files("rnnrbm.models") / "default.npz"))


def open_model(model: Path | None) -> tuple[Path, Checkpoint]:
    """Load ``model`` (None: the shipped default) as a :class:`~rnnrbm.checkpoint.Checkpoint`."""
    if model is None:
        path = default_model_path()
        if not path.is_file():
            raise UsageError(f"the shipped model {path} is missing; train one with "
                             "'rnnrbm train MIDI_FOLDER -o model.npz' and pass -m model.npz")
    else:
        path = Path(model)
        if not path.exists():
            raise UsageError(f"model {path} does not exist; pass a checkpoint written by 'rnnrbm train'")
        if not path.is_file():
            raise UsageError(f"model {path} is not a file; pass a checkpoint .npz written by 'rnnrbm train'")
    ckpt = load_checkpoint(path)
    if "low" not in ckpt.meta or "high" not in ckpt.meta:
        raise RnnrbmError(f"{path}: checkpoint metadata has no pitch range (low/high), so its notes are unknown")
    return path, ckpt
