"""The corpus file: piano rolls of many pieces in one plain ``.npz``.

Keys (all loadable with ``allow_pickle=False``):

=========  ==========================  =========================================
key        shape / dtype               meaning
=========  ==========================  =========================================
rolls      (total_steps, V) uint8      all pieces' rolls, concatenated
offsets    (n,) int64                  first row of each piece in ``rolls``
lengths    (n,) int64                  steps of each piece
names      (n,) unicode                source of each piece (relative path)
splits     (n,) unicode                "train", "valid" or "test"
meta       () unicode                  JSON: format, version, low, high, ...
=========  ==========================  =========================================

Column j of a roll is MIDI pitch ``low + j``. This module also reads the JSON
piano-roll format of the ICML 2012 benchmark datasets (never a pickle).
"""

from __future__ import annotations

import json
import os
import tempfile
import zlib
from dataclasses import dataclass, field
from pathlib import Path
from typing import BinaryIO, Callable

import numpy as np

from rnnrbm.errors import RnnrbmError, UsageError
from rnnrbm.notes import key_shift, map_pitches, note_name

FORMAT, VERSION = "rnnrbm-corpus", 1
SPLITS = ("train", "valid", "test")
KEYS = ("rolls", "offsets", "lengths", "names", "splits", "meta")


def atomic_write(path: Path, write: Callable[[BinaryIO], None]) -> Path:
    """Call ``write(file)`` on a temp file next to ``path``, then rename it into place.

    Readers never see a half-written file, and a failed write leaves any old file intact.
    The data reach the disk before the rename, so a power cut cannot leave an empty file
    under the final name either.
    """
    path = Path(path)
    try:
        fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    except OSError as exc:
        raise RnnrbmError(f"cannot write {path}: {exc.strerror or exc}; "
                          "check that the folder exists and is writable") from None
    try:
        with os.fdopen(fd, "wb") as handle:
            write(handle)
            handle.flush()
            os.fsync(handle.fileno())
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(tmp, 0o666 & ~umask)  # mkstemp creates 0600; give the usual permissions
        os.replace(tmp, path)
    except BaseException as exc:
        Path(tmp).unlink(missing_ok=True)
        if isinstance(exc, OSError):
            raise RnnrbmError(f"cannot write {path}: {exc.strerror or exc}") from None
        raise
    return path


def check_output(path: Path, suffix: str = ".npz") -> None:
    """Fail early, before any work, if ``path`` cannot be written as a ``suffix`` file."""
    path = Path(path)
    if path.suffix.lower() != suffix:
        raise UsageError(f"output {path} must end in {suffix}, e.g. corpus{suffix}")
    if path.is_dir():
        raise UsageError(f"output {path} is a folder; give a file name like corpus{suffix}")
    try:  # like train's -o: a new output folder is made on the spot
        path.parent.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise UsageError(f"cannot write {path}: cannot make folder {path.parent} ({exc.strerror})") from None
    try:  # an anonymous file: nothing to clean up, even after a Ctrl-C right here
        tempfile.TemporaryFile(dir=path.parent).close()
    except OSError as exc:
        raise UsageError(f"cannot write {path}: {exc.strerror or exc}; "
                         "check that the folder exists and is writable") from None


def assign_split(name: str, valid_fraction: float, test_fraction: float) -> str:
    """Deterministic split of a piece from a stable hash (CRC-32) of its name.

    Adding or removing other pieces never moves this one.
    """
    u = zlib.crc32(name.encode("utf-8")) / 2**32
    if u < test_fraction:
        return "test"
    return "valid" if u < test_fraction + valid_fraction else "train"


@dataclass
class Corpus:
    """Piano rolls of many pieces; see the module docstring for the arrays."""

    rolls: np.ndarray
    offsets: np.ndarray
    lengths: np.ndarray
    names: np.ndarray
    splits: np.ndarray
    meta: dict = field(default_factory=dict)

    @classmethod
    def from_pieces(cls, pieces: list[np.ndarray], names: list[str], splits: list[str],
                    meta: dict) -> Corpus:
        """Build from (T_i, V) rolls; ``meta`` must hold at least low, high and steps_per_beat."""
        n_visible = meta["high"] - meta["low"] + 1
        lengths = np.array([len(p) for p in pieces], dtype=np.int64)
        rolls = np.concatenate(pieces, axis=0).astype(np.uint8) if pieces \
            else np.zeros((0, n_visible), np.uint8)
        meta = {"format": FORMAT, "version": VERSION, **meta}
        return cls(rolls, np.cumsum(lengths) - lengths, lengths,
                   np.array(names, dtype=str), np.array(splits, dtype=str), meta)

    @property
    def low(self) -> int:
        return int(self.meta["low"])

    @property
    def high(self) -> int:
        return int(self.meta["high"])

    @property
    def steps_per_beat(self) -> int:
        return int(self.meta["steps_per_beat"])

    @property
    def n_visible(self) -> int:
        return self.rolls.shape[1]

    def __len__(self) -> int:
        return len(self.lengths)

    def pieces(self, split: str | None = None) -> list[np.ndarray]:
        """Read-only (T, n_visible) uint8 views of the pieces in ``split`` (all when None)."""
        if split is not None and split not in SPLITS:
            raise UsageError(f"unknown split {split!r}; use one of {', '.join(SPLITS)}")
        out = []
        for offset, length, s in zip(self.offsets, self.lengths, self.splits):
            if split is None or s == split:
                view = self.rolls[offset:offset + length]
                view.flags.writeable = False
                out.append(view)
        return out

    def with_range(self, low: int, high: int, out_of_range: str = "fold") -> Corpus:
        """The same pieces seen through another pitch range (columns folded or dropped)."""
        if (low, high) == (self.low, self.high):
            return self
        mapped, kept = map_pitches(np.arange(self.low, self.high + 1), low, high, out_of_range)
        rolls = np.zeros((len(self.rolls), high - low + 1), np.uint8)
        for column in np.nonzero(kept)[0]:
            rolls[:, mapped[column] - low] |= self.rolls[:, column]
        meta = {**self.meta, "low": low, "high": high, "out_of_range": out_of_range}
        return Corpus(rolls, self.offsets, self.lengths, self.names, self.splits, meta)

    def save(self, path: Path) -> Path:
        """Write the ``.npz`` atomically (temp file in the same folder, then rename)."""
        arrays = {"rolls": self.rolls, "offsets": self.offsets, "lengths": self.lengths,
                  "names": self.names, "splits": self.splits, "meta": np.array(json.dumps(self.meta))}
        return atomic_write(Path(path), lambda handle: np.savez_compressed(handle, **arrays))

    @classmethod
    def load(cls, path: Path) -> Corpus:
        """Read and validate a corpus; raise :class:`RnnrbmError` saying what is wrong."""
        path = Path(path)
        if not path.is_file():
            raise UsageError(f"corpus {path} does not exist")
        try:
            with open(path, "rb") as handle:
                if handle.read(4) not in (b"PK\x03\x04", b"PK\x05\x06"):  # np.load would talk about pickles
                    raise ValueError("not an .npz archive")
            with np.load(path, allow_pickle=False) as data:
                missing = [k for k in KEYS if k not in data.files]
                if missing:
                    raise RnnrbmError(f"{path} is not an rnnrbm corpus (missing {', '.join(missing)}); "
                                      "make one with `rnnrbm ingest`")
                arrays = {k: data[k] for k in KEYS}
        except RnnrbmError:
            raise
        except Exception as exc:  # any parse failure of a damaged file (zipfile, zlib, numpy) is one problem
            detail = " ".join(str(exc).split())[:200]
            raise RnnrbmError(f"{path} is not a readable corpus file (truncated, damaged or not an .npz: "
                              f"{detail}); re-create it with `rnnrbm ingest`") from None
        try:
            meta = json.loads(str(arrays.pop("meta")))
        except (ValueError, TypeError):
            raise RnnrbmError(f"{path}: corpus metadata is not valid JSON") from None
        corpus = cls(meta=meta, **arrays)
        corpus._validate(path)
        return corpus

    def _validate(self, path: Path) -> None:
        meta = self.meta
        if not isinstance(meta, dict) or meta.get("format") != FORMAT:
            found = meta.get("format") if isinstance(meta, dict) else type(meta).__name__
            raise RnnrbmError(f"{path} is not an rnnrbm corpus (format {found!r})")
        if meta.get("version") != VERSION:
            raise RnnrbmError(f"{path} is corpus version {meta.get('version')}, this rnnrbm reads "
                              f"version {VERSION}; re-create it with `rnnrbm ingest`")
        n = len(self.lengths)
        problems = []
        if not all(isinstance(meta.get(k), int) for k in ("low", "high", "steps_per_beat")):
            problems.append("meta lacks low/high/steps_per_beat")
        elif self.rolls.ndim != 2 or self.rolls.shape[1] != self.high - self.low + 1:
            problems.append(f"rolls have shape {self.rolls.shape}, expected (steps, {self.high - self.low + 1})")
        if self.rolls.dtype != np.uint8 or (self.rolls.size and self.rolls.max() > 1):
            problems.append("rolls are not binary uint8")
        for key in ("offsets", "lengths", "names", "splits"):
            if getattr(self, key).shape != (n,):
                problems.append(f"{key} has shape {getattr(self, key).shape}, expected ({n},)")
        if not problems:
            if self.names.dtype.kind != "U" or self.splits.dtype.kind != "U":
                problems.append("names/splits are not text")
            elif not set(self.splits.tolist()) <= set(SPLITS):
                problems.append("unknown split labels")
            elif (self.lengths < 0).any() or not np.array_equal(
                    self.offsets, np.cumsum(self.lengths) - self.lengths) \
                    or self.lengths.sum() != len(self.rolls):
                problems.append("offsets/lengths do not match the rolls")
        if problems:
            raise RnnrbmError(f"{path} is a damaged corpus: {'; '.join(problems)}")

    def stats(self, top: int = 10) -> dict:
        """Summary for ``rnnrbm info``: pieces/steps per split, polyphony, pitch usage."""
        per_split = {s: {"pieces": int((self.splits == s).sum()),
                         "steps": int(self.lengths[self.splits == s].sum())} for s in SPLITS}
        active = self.rolls.sum(axis=1, dtype=np.int64)
        hist = np.bincount(np.minimum(active, 6), minlength=7)
        usage = self.rolls.sum(axis=0, dtype=np.int64)
        order = np.argsort(-usage, kind="stable")[:top]
        total = max(int(usage.sum()), 1)
        return {
            "pieces": len(self), "steps": int(self.lengths.sum()), "splits": per_split,
            "low": self.low, "high": self.high, "steps_per_beat": self.steps_per_beat,
            "length": {"min": int(self.lengths.min()) if len(self) else 0,
                       "median": float(np.median(self.lengths)) if len(self) else 0.0,
                       "max": int(self.lengths.max()) if len(self) else 0},
            "notes_per_step": float(active.mean()) if len(active) else 0.0,
            "polyphony": {("6+" if k == 6 else str(k)): int(c) for k, c in enumerate(hist)},
            "pitches": [(note_name(self.low + int(c)), int(usage[c]), float(usage[c] / total))
                        for c in order if usage[c]],
        }


def concat(corpora: list[Corpus]) -> Corpus:
    """One corpus holding the pieces of several with the same range and grid (meta of the first)."""
    first = corpora[0]
    pieces = [p for c in corpora for p in c.pieces()]
    return Corpus.from_pieces(pieces, [n for c in corpora for n in c.names],
                              [s for c in corpora for s in c.splits], first.meta)


def read_benchmark_json(path: Path) -> list[tuple[str, int, list[list[int]]]]:
    """(split, index in split, steps) for every piece of an ICML 2012 benchmark JSON file.

    The format is ``{"train"|"valid"|"test": [[[pitch, ...] per step] per piece]}``.
    """
    try:
        data = json.loads(Path(path).read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, ValueError) as exc:
        raise RnnrbmError(f"cannot read {path} as JSON: {exc}") from None
    if not isinstance(data, dict) or not data or not set(data) <= set(SPLITS):
        raise RnnrbmError(f"{path} is not a benchmark file: expected an object with keys "
                          f"{', '.join(SPLITS)} (got {sorted(data) if isinstance(data, dict) else type(data).__name__})")
    pieces = []
    for split in SPLITS:
        for i, steps in enumerate(data.get(split, [])):
            if not isinstance(steps, list) or not all(
                    isinstance(step, list) and all(isinstance(p, (int, float)) and 0 <= p <= 127
                                                   for p in step) for step in steps):
                raise RnnrbmError(f"{path}: {split} piece {i} is not a list of steps of MIDI pitches 0-127")
            pieces.append((split, i, [[int(p) for p in step] for step in steps]))
    return pieces


def steps_to_roll(steps: list[list[int]], low: int, high: int, out_of_range: str = "fold",
                  transpose_to_c: bool = False) -> tuple[np.ndarray, int, int, int]:
    """Roll of one benchmark piece plus (kept, folded, dropped) counts of (step, pitch) entries.

    Returns a (len(steps), high - low + 1) uint8 array; ``transpose_to_c`` uses a
    Krumhansl-Schmuckler key estimate (the format has no key signature).
    """
    rows = np.repeat(np.arange(len(steps)), [len(s) for s in steps])
    pitches = np.array([p for s in steps for p in s], dtype=np.int64)
    if transpose_to_c:
        pitches = pitches + key_shift(np.bincount(pitches % 12, minlength=12))
    mapped, kept = map_pitches(pitches, low, high, out_of_range)
    roll = np.zeros((len(steps), high - low + 1), np.uint8)
    roll[rows[kept], mapped[kept] - low] = 1
    folded = int((kept & (mapped != pitches)).sum())
    return roll, int(kept.sum()) - folded, folded, int((~kept).sum())
