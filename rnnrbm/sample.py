"""Composing with a trained RNN-RBM: sampling piano rolls and generating MIDI (and WAV) files.

Sampling (Boulanger-Lewandowski et al., 2012, section 3) goes one frame at a time.
With the recurrent state ``u_{t-1}`` the RBM of step t has biases::

    bv_t = bv + u_{t-1} Wuv,    bh_t = bh + u_{t-1} Wuh

and ``k`` block Gibbs steps, started at the previous frame (zeros before the first
frame, or the primer's last frame), draw ``v_t`` from it, at temperature ``T``
(``p(v, h) ∝ exp(-E(v, h) / T)``: W, bv_t and bh_t divided by T). The frame is fed
back: ``u_t = tanh(bu + v_t Wvu + u_{t-1} Wuu)``. The whole loop runs in one Numba
kernel, :func:`rnnrbm.kernels.generate_frames`; sampling is done in float32
whatever the checkpoint's dtype.

Reproducibility: all randomness comes from ``numpy.random.default_rng(seed)``
(uniforms drawn in chunks of time steps, in order), so one seed gives the same
roll, and the same MIDI bytes, on every run. Output file ``i`` of ``n``
(``out-1.mid``, ``out-2.mid``, ...; just ``out.mid`` when n = 1) uses seed
``seed + i - 1``, so ``--seed S -n 3`` writes in ``out-2.mid`` what
``--seed S+1`` writes in ``out.mid``.

Files are written one piece at a time, each atomically, so Ctrl-C keeps the
pieces already finished and never leaves a partial file
(:class:`GenerateInterrupted` lists what was written).

Checking output paths and disk space, reading primers and writing WAV files
live in :mod:`rnnrbm.sample_io`. Nothing here prints; the CLI reports the
:class:`GenerateResult`.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass, field
from pathlib import Path
from typing import Optional, Union

import numpy as np

from rnnrbm.checkpoint import default_model_path, open_model  # noqa: F401  (re-exported)
from rnnrbm.errors import UsageError
from rnnrbm.sample_io import (check_space, check_wav_length, check_writable, numbered, output_bytes, read_primer,
                               write_wav)

DEFAULT_STEPS = 256
DEFAULT_GIBBS_STEPS = 25
DEFAULT_QPM = 100.0
BEATS_PER_BAR = 4
MAX_STEPS = 1_000_000
MAX_OUTPUTS = 1000
MIDI_SUFFIXES = (".mid", ".midi")
CHUNK_DRAWS = 1 << 17  # uniforms per kernel call: 512 kB of float32 stays in L2 between passes

SeedLike = Union[int, np.random.Generator]


class GenerateInterrupted(KeyboardInterrupt):
    """Ctrl-C during :func:`generate_files`; ``written`` lists the complete files it leaves."""

    def __init__(self, written: list[Path]):
        super().__init__()
        self.written = list(written)


# ---------------------------------------------------------------- sampling


def sampling_params(params: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    """The parameters as C-contiguous float32 arrays, the dtype the sampler runs in."""
    return {name: np.ascontiguousarray(value, dtype=np.float32) for name, value in params.items()}


def prime(params: dict[str, np.ndarray], primer: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Run the RNN over a primer and return the state to continue from.

    Parameters
    ----------
    params : model parameters (see :mod:`rnnrbm.model`).
    primer : (T, n_visible) binary roll v_1..v_T, T >= 1.

    Returns
    -------
    u : (n_recurrent,) u_T, with u_t = tanh(bu + v_t Wvu + u_{t-1} Wuu) from u_0 = u0.
    v : (n_visible,) uint8, the last frame v_T (start of the first Gibbs chain).
    """
    from rnnrbm.model import recurrence

    primer = np.asarray(primer)
    if primer.ndim != 2 or primer.shape[1] != params["W"].shape[0] or len(primer) == 0:
        raise ValueError(f"primer must be (T >= 1, {params['W'].shape[0]}), got {primer.shape}")
    u = recurrence(params, (primer != 0).astype(params["W"].dtype))[-1]
    return np.ascontiguousarray(u), (primer[-1] != 0).astype(np.uint8)


def sample_roll(params: dict[str, np.ndarray], n_steps: int, *, gibbs_steps: int = DEFAULT_GIBBS_STEPS,
                temperature: float = 1.0, seed: SeedLike = 0, primer: Optional[np.ndarray] = None
                ) -> np.ndarray:
    """Sample ``n_steps`` frames from the RNN-RBM (the primer not included).

    Parameters
    ----------
    params : model parameters (see :mod:`rnnrbm.model`); sampling runs in float32.
    n_steps : number of frames T to generate, >= 1.
    gibbs_steps : k, block Gibbs steps per frame, >= 1.
    temperature : T_temp > 0; the RBM at each step samples ``p(v, h) ∝ exp(-E(v, h) / T_temp)``.
    seed : an integer (``numpy.random.default_rng(seed)``) or a Generator to draw from.
    primer : optional (P, n_visible) binary roll; the RNN runs over it first and the
        first Gibbs chain starts at its last frame. Without one, generation starts
        from u_0 = u0 and silence. A chain whose previous frame is silent starts from
        a random frame instead (each note on with probability 1/2, drawn from
        ``seed``): in a well-trained, sharp model silence is a trap the chain rarely
        leaves, since with no note on no hidden unit turns on, and each silent frame
        would start the next chain silent. Not with a count bias: its penalty on
        silence gets the chain out, while half the keys at once can hold it.

    Returns
    -------
    (n_steps, n_visible) uint8 roll v_1..v_T; column j is pitch ``low + j``.
    """
    from rnnrbm.kernels import generate_frames

    if n_steps < 1 or gibbs_steps < 1 or not temperature > 0:
        raise ValueError(f"need n_steps >= 1, gibbs_steps >= 1, temperature > 0 "
                         f"(got {n_steps}, {gibbs_steps}, {temperature})")
    p = sampling_params(params)
    V, H = p["W"].shape
    rng = seed if isinstance(seed, np.random.Generator) else np.random.default_rng(seed)
    if primer is None:
        u, v = p["u0"].copy(), np.zeros(V, np.uint8)
    else:
        u, v = prime(p, primer)
    out = np.empty((n_steps, V), np.uint8)
    chunk = max(1, CHUNK_DRAWS // (gibbs_steps * (H + V)))
    for start in range(0, n_steps, chunk):
        stop = min(n_steps, start + chunk)
        uniforms = rng.random((stop - start, gibbs_steps, H + V), dtype=np.float32)
        restarts = (rng.random((stop - start, V), dtype=np.float32) < 0.5).astype(np.uint8)
        if p["bn"].size:  # a count bias makes silence unlikely, not a trap; a dense restart could be one
            restarts[:] = 0
        generate_frames(p, u, v, uniforms, restarts, temperature, out=out[start:stop])
    return out


# ---------------------------------------------------------------- options and results


@dataclass(frozen=True)
class GenerateOptions:
    """What ``rnnrbm generate`` does; every field has the CLI's default.

    At most one of ``steps``, ``bars`` (4 beats each) and ``seconds`` sets the
    length of the generated part (the primer not counted); none means
    :data:`DEFAULT_STEPS`. ``seed=None`` picks a random seed (reported in the
    result). ``qpm=None`` takes the checkpoint's tempo (``meta["qpm"]``, else 100).
    """

    steps: Optional[int] = None
    bars: Optional[float] = None
    seconds: Optional[float] = None
    num_outputs: int = 1
    seed: Optional[int] = None
    gibbs_steps: int = DEFAULT_GIBBS_STEPS
    temperature: float = 1.0
    keep_primer: bool = False
    qpm: Optional[float] = None
    program: int = 0
    velocity: int = 80

    def __post_init__(self):
        given = [name for name in ("steps", "bars", "seconds") if getattr(self, name) is not None]
        if len(given) > 1:
            raise UsageError(f"give only one of --steps, --bars and --seconds (got {' and '.join('--' + g for g in given)})")
        if self.steps is not None and not 1 <= self.steps <= MAX_STEPS:
            raise UsageError(f"--steps must be 1-{MAX_STEPS}, not {self.steps}")
        if self.bars is not None and not (np.isfinite(self.bars) and self.bars > 0):
            raise UsageError(f"--bars must be positive, not {self.bars:g}")
        if self.seconds is not None and not (np.isfinite(self.seconds) and self.seconds > 0):
            raise UsageError(f"--seconds must be positive, not {self.seconds:g}")
        if not 1 <= self.num_outputs <= MAX_OUTPUTS:
            raise UsageError(f"--num-outputs must be 1-{MAX_OUTPUTS}, not {self.num_outputs}")
        if self.seed is not None and self.seed < 0:
            raise UsageError(f"--seed must be a non-negative integer, not {self.seed}")
        if self.gibbs_steps < 1:
            raise UsageError(f"--gibbs-steps must be at least 1, not {self.gibbs_steps}")
        if not (np.isfinite(self.temperature) and self.temperature > 0):
            raise UsageError(f"--temperature must be a positive number (1 = the model's distribution), "
                             f"not {self.temperature:g}")
        if self.qpm is not None and not 4 <= self.qpm <= 1000:
            raise UsageError(f"--qpm must be 4-1000 quarter notes per minute, not {self.qpm:g}")
        if not 0 <= self.program <= 127:
            raise UsageError(f"--program must be a General MIDI program 0-127, not {self.program}")
        if not 1 <= self.velocity <= 127:
            raise UsageError(f"--velocity must be 1-127, not {self.velocity}")


@dataclass
class GeneratedPiece:
    """One output file: the roll written (primer included when kept) and where."""

    path: Path
    seed: int
    roll: np.ndarray  # (T, n_visible) uint8
    low: int
    step_seconds: float
    primer_steps: int = 0  # leading steps of ``roll`` that are the primer
    wav: Optional[Path] = None

    @property
    def duration(self) -> float:
        """Length of the roll in seconds."""
        return len(self.roll) * self.step_seconds

    @property
    def n_notes(self) -> int:
        """MIDI notes in the file: runs of consecutive on-steps of a pitch."""
        on = self.roll != 0
        return int(on[:1].sum() + (on[1:] & ~on[:-1]).sum())

    @property
    def mean_notes(self) -> float:
        """Mean number of sounding pitches per step (polyphony)."""
        return float(self.roll.sum() / max(len(self.roll), 1))

    @property
    def pitch_span(self) -> Optional[tuple[int, int]]:
        """Lowest and highest MIDI pitch used, or None for a silent roll."""
        used = np.nonzero(self.roll.any(axis=0))[0]
        return (self.low + int(used[0]), self.low + int(used[-1])) if len(used) else None


@dataclass
class GenerateResult:
    """What :func:`generate_files` did."""

    model: Path
    seed: int
    seed_chosen: bool  # True when no seed was given and one was picked
    low: int
    high: int
    steps_per_beat: int
    qpm: float
    steps: int  # generated steps per piece (primer excluded)
    gibbs_steps: int
    temperature: float
    pieces: list[GeneratedPiece] = field(default_factory=list)


# ---------------------------------------------------------------- generating files


def resolve_steps(options: GenerateOptions, steps_per_beat: int, qpm: float) -> int:
    """Generated steps from ``--steps``, ``--bars`` (4 beats) or ``--seconds`` (at ``qpm``)."""
    if options.bars is not None:
        steps, what = round(options.bars * BEATS_PER_BAR * steps_per_beat), f"--bars {options.bars:g}"
    elif options.seconds is not None:
        steps, what = round(options.seconds * qpm / 60.0 * steps_per_beat), f"--seconds {options.seconds:g}"
    else:
        return DEFAULT_STEPS if options.steps is None else options.steps
    if not 1 <= steps <= MAX_STEPS:
        raise UsageError(f"{what} gives {steps} steps at {steps_per_beat} steps per beat"
                         + (f" and {qpm:g} qpm" if options.seconds is not None else "")
                         + f"; need 1-{MAX_STEPS}")
    return int(steps)


def generate_files(output: Path, options: GenerateOptions = GenerateOptions(), *, model: Optional[Path] = None,
                   primer: Optional[Path] = None, wav: Optional[Path] = None) -> GenerateResult:
    """Sample ``options.num_outputs`` pieces from a checkpoint and write them as MIDI (and WAV).

    Every argument is checked, every output path probed for writability and the
    free disk space compared with the files' size before sampling starts. Each
    piece is written (atomically) as soon as it is sampled, so an interrupt keeps
    the finished pieces and leaves no partial file.

    Parameters
    ----------
    output : ``.mid``/``.midi`` path; numbered ``stem-i`` when ``num_outputs > 1``.
    options : see :class:`GenerateOptions`.
    model : checkpoint ``.npz``; None uses the shipped ``rnnrbm/models/default.npz``.
    primer : optional MIDI file to continue (read in the checkpoint's range and grid).
    wav : optional ``.wav`` path for a sine-wave rendering, numbered like ``output``.

    Raises
    ------
    UsageError for bad arguments, unwritable paths or too little disk space; RnnrbmError for an
    unreadable checkpoint; GenerateInterrupted (a KeyboardInterrupt) on Ctrl-C.
    """
    from rnnrbm.midi import roll_to_midi, write_midi

    outputs = numbered(Path(output), options.num_outputs)
    wavs = numbered(Path(wav), options.num_outputs) if wav is not None else [None] * len(outputs)
    if options.keep_primer and primer is None:
        raise UsageError("--keep-primer needs --primer FILE.mid")

    for path in outputs:
        check_writable(path, MIDI_SUFFIXES, "output")
    for path in wavs:
        if path is not None:
            check_writable(path, (".wav",), "--wav output")

    model_path, ckpt = open_model(model)
    meta = ckpt.meta
    low, high = int(meta["low"]), int(meta["high"])
    steps_per_beat = int(meta.get("steps_per_beat", 4))
    qpm = float(options.qpm if options.qpm is not None else meta.get("qpm") or DEFAULT_QPM)
    qpm = min(max(qpm, 4.0), 1000.0)  # a checkpoint's measured tempo could be extreme
    n_steps = resolve_steps(options, steps_per_beat, qpm)

    primer_roll = read_primer(primer, meta) if primer is not None else None
    step_seconds = 60.0 / qpm / steps_per_beat
    total_steps = n_steps + (len(primer_roll) if options.keep_primer else 0)
    if wav is not None:
        check_wav_length(total_steps * step_seconds)
    check_space(outputs, wavs, output_bytes(total_steps, step_seconds))
    seed_chosen = options.seed is None
    seed = secrets.randbelow(2**31) if seed_chosen else int(options.seed)
    result = GenerateResult(model_path, seed, seed_chosen, low, high, steps_per_beat, qpm, n_steps,
                            options.gibbs_steps, options.temperature)
    midi_options = dict(qpm=qpm, program=options.program, velocity=options.velocity,
                        steps_per_beat=steps_per_beat)
    written: list[Path] = []
    try:
        for i, path in enumerate(outputs):
            roll = sample_roll(ckpt.params, n_steps, gibbs_steps=options.gibbs_steps,
                               temperature=options.temperature, seed=seed + i, primer=primer_roll)
            kept = 0
            if options.keep_primer:
                kept = len(primer_roll)
                roll = np.concatenate([primer_roll, roll])
            piece = GeneratedPiece(path, seed + i, roll, low, step_seconds, kept, wavs[i])
            write_midi(piece.roll, piece.path, low, **midi_options)
            written.append(piece.path)
            if piece.wav is not None:
                write_wav(roll_to_midi(piece.roll, low, **midi_options), piece.wav, min_seconds=piece.duration)
                written.append(piece.wav)
            result.pieces.append(piece)
    except KeyboardInterrupt:
        raise GenerateInterrupted(written) from None
    return result
