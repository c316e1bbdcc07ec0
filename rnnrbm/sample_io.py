"""The files around sampling: the primer read in, the output paths, disk space and WAV written out.

:func:`rnnrbm.sample.generate_files` uses these to check every path and the
free space before it samples (so a bad path or a full disk costs nothing), to
read a primer in the checkpoint's range and grid, and to render pieces as WAV.
MIDI files themselves are written by :mod:`rnnrbm.midi`.
"""

from __future__ import annotations

import os
import tempfile
import wave
from dataclasses import replace
from pathlib import Path

import numpy as np

from rnnrbm.checkpoint import check_free_space
from rnnrbm.errors import RnnrbmError, UsageError

PRIMER_SUFFIXES = (".mid", ".midi", ".kar")
WAV_RATE = 22050
WAV_MAX_SECONDS = 3600.0  # the audio is built in memory: about 1 GB at this length


# ---------------------------------------------------------------- output paths and disk space


def numbered(path: Path, n: int) -> list[Path]:
    """``[path]`` for n = 1, else ``stem-1.suffix`` .. ``stem-n.suffix`` beside ``path``."""
    path = Path(path)
    if n == 1:
        return [path]
    return [path.with_name(f"{path.stem}-{i}{path.suffix}") for i in range(1, n + 1)]


def check_writable(path: Path, suffixes: tuple[str, ...], what: str) -> None:
    """Raise :class:`UsageError` unless ``path`` has one of ``suffixes`` and can be written now."""
    path = Path(path)
    if path.suffix.lower() not in suffixes:
        raise UsageError(f"{what} {path} must end in {' or '.join(suffixes)}")
    if path.is_dir():
        raise UsageError(f"{what} {path} is a folder; give a file name like out{suffixes[0]}")
    if not path.parent.is_dir():
        raise UsageError(f"cannot write {what} {path}: folder {path.parent} does not exist; make it or "
                         "choose another path")
    try:  # a probe named like atomic_write's temporary files
        fd, probe = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
        os.close(fd)
        os.unlink(probe)
    except OSError as exc:
        raise UsageError(f"cannot write {what} {path} ({exc.strerror}); choose another path") from None


def check_space(outputs: list[Path], wavs: list, sizes: tuple[int, int]) -> None:
    """Fail before sampling if any output folder lacks room for its MIDI (and WAV) files."""
    need: dict[Path, int] = {}
    for path, size in [(p, sizes[0]) for p in outputs] + [(w, sizes[1]) for w in wavs if w is not None]:
        need[path.parent] = need.get(path.parent, 0) + size
    for folder, size in need.items():
        check_free_space(folder, size, "the output files")


def output_bytes(steps: int, step_seconds: float) -> tuple[int, int]:
    """Rough sizes of one generated piece's MIDI file and 16-bit mono WAV file."""
    midi = 1024 + 16 * steps  # a few note events per step, for music this model makes
    audio = 2 * WAV_RATE * (steps * step_seconds + 2.0)  # 2 s for the last notes' release
    return int(midi), int(audio)


# ---------------------------------------------------------------- WAV


def check_wav_length(seconds: float) -> None:
    """Refuse, before sampling, a WAV rendering too long to build in memory."""
    if seconds > WAV_MAX_SECONDS:
        raise UsageError(f"--wav renders at most {WAV_MAX_SECONDS / 60:g} minutes per piece, because the audio "
                         f"is built in memory, and this piece lasts {seconds / 60:.0f} minutes; shorten it "
                         "(--steps, --bars or --seconds) or leave out --wav")


def write_wav(midi, path: Path, fs: int = WAV_RATE, min_seconds: float = 0.0) -> Path:
    """Render ``midi`` (a PrettyMIDI) with sine waves to a 16-bit mono WAV, peak-normalised, atomically."""
    from rnnrbm.corpus import atomic_write

    audio = midi.synthesize(fs=fs) if any(inst.notes for inst in midi.instruments) else np.zeros(0)
    audio = np.pad(audio, (0, max(0, int(np.ceil(min_seconds * fs)) - len(audio))))
    peak = float(np.abs(audio).max(initial=0.0))
    pcm = (audio * (0.9 * 32767 / peak) if peak > 0 else audio).astype("<i2")

    def write(handle) -> None:
        with wave.open(handle, "wb") as w:
            w.setnchannels(1)
            w.setsampwidth(2)
            w.setframerate(fs)
            w.writeframes(pcm.tobytes())

    return atomic_write(Path(path), write)


# ---------------------------------------------------------------- primer


def primer_config(meta: dict):
    """The :class:`~rnnrbm.ingest.IngestConfig` that reads a primer like the model's training data."""
    from rnnrbm.ingest import config_from_meta

    return replace(config_from_meta(meta), min_steps=1, valid_fraction=0.0, test_fraction=0.0)


def read_primer(path: Path, meta: dict) -> np.ndarray:
    """A MIDI primer as a (T, n_visible) uint8 roll in the checkpoint's range and grid.

    Notes outside the range are folded by octaves (or dropped) as the model's own
    data were; a file without usable notes is rejected with the reason.
    """
    from rnnrbm.ingest import load_pieces

    path = Path(path)
    if not path.is_file():
        raise UsageError(f"primer {path} does not exist or is not a file; give a MIDI file to continue from")
    if path.suffix.lower() not in PRIMER_SUFFIXES:
        raise UsageError(f"primer {path} must be a MIDI file ({', '.join(PRIMER_SUFFIXES)})")
    try:
        pieces = load_pieces([path], primer_config(meta))[0].pieces()
    except RnnrbmError as exc:
        raise UsageError(f"cannot use primer {path}: {exc}") from None
    if len(pieces) != 1 or len(pieces[0]) == 0:
        raise UsageError(f"cannot use primer {path}: it gives no usable music")
    roll = np.array(pieces[0], dtype=np.uint8)
    if not roll.any():
        raise UsageError(f"cannot use primer {path}: none of its notes fit the model's range "
                         f"{meta['low']}..{meta['high']}")
    return roll
