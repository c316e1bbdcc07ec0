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
crash or SIGKILL mid-write leaves the previous checkpoint intact.
"""

from __future__ import annotations

import json
from importlib import resources
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from rnnrbm.corpus import atomic_write
from rnnrbm.errors import RnnrbmError, UsageError
from rnnrbm.model import PARAM_NAMES, ModelConfig

FORMAT = "rnnrbm"
VERSION = 1
OPT_PREFIX = "opt/"


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
    """Write ``ckpt`` atomically to ``path``; refuses non-finite parameters."""
    path = Path(path)
    for name in PARAM_NAMES:
        if not np.all(np.isfinite(ckpt.params[name])):
            raise RnnrbmError(f"refusing to save {path}: parameter {name} has NaN or Inf values")
    meta = dict(ckpt.meta, format=FORMAT, version=VERSION)
    arrays = {name: np.ascontiguousarray(ckpt.params[name]) for name in PARAM_NAMES}
    arrays.update({OPT_PREFIX + k: np.asarray(v) for k, v in ckpt.opt.items()})
    arrays["meta"] = np.array(json.dumps(meta))
    path.parent.mkdir(parents=True, exist_ok=True)
    atomic_write(path, lambda handle: np.savez(handle, **arrays))


def load_checkpoint(path: str | Path) -> Checkpoint:
    """Read and validate a checkpoint; any problem is one clear :class:`RnnrbmError`."""
    path = Path(path)
    if not path.is_file():
        raise RnnrbmError(f"checkpoint {path} not found: train one with 'rnnrbm train' or pass -m MODEL.npz")
    try:
        with np.load(path, allow_pickle=False) as z:
            data = {k: z[k] for k in z.files}
    except Exception as exc:  # any parse failure of a damaged file is the same user-facing problem
        raise RnnrbmError(f"{path} is not a readable rnnrbm checkpoint ({type(exc).__name__}: {exc})") from None
    if "meta" not in data:
        raise RnnrbmError(f"{path} is not an rnnrbm checkpoint (no 'meta' entry)")
    try:
        meta = json.loads(str(data.pop("meta")))
    except (json.JSONDecodeError, ValueError) as exc:
        raise RnnrbmError(f"{path}: checkpoint metadata is not valid JSON ({exc})") from None
    if not isinstance(meta, dict) or meta.get("format") != FORMAT:
        raise RnnrbmError(f"{path} is not an rnnrbm checkpoint (format is {meta.get('format') if isinstance(meta, dict) else meta!r})")
    if meta.get("version") != VERSION:
        raise RnnrbmError(f"{path} has checkpoint version {meta.get('version')}; this rnnrbm reads version {VERSION}")
    try:
        config = ModelConfig(**meta["model"])
    except (KeyError, TypeError) as exc:
        raise RnnrbmError(f"{path}: checkpoint metadata lacks a valid 'model' entry ({exc})") from None
    if "low" in meta and "high" in meta and meta["high"] - meta["low"] + 1 != config.n_visible:
        raise RnnrbmError(f"{path}: pitch range {meta['low']}..{meta['high']} does not match "
                          f"n_visible={config.n_visible}")
    params = {}
    for name, shape in config.shapes().items():
        if name not in data:
            raise RnnrbmError(f"{path}: checkpoint is missing parameter {name}")
        arr = data[name]
        if arr.shape != shape or arr.dtype not in (np.float32, np.float64):
            raise RnnrbmError(f"{path}: parameter {name} has shape {arr.shape} and dtype {arr.dtype}, "
                              f"expected {shape} float32/float64")
        if not np.all(np.isfinite(arr)):
            raise RnnrbmError(f"{path}: parameter {name} contains NaN or Inf")
        params[name] = np.ascontiguousarray(arr)
    if len({a.dtype for a in params.values()}) != 1:
        raise RnnrbmError(f"{path}: parameters have mixed dtypes")
    opt = {k[len(OPT_PREFIX):]: v for k, v in data.items() if k.startswith(OPT_PREFIX)}
    return Checkpoint(params, meta, opt)


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
