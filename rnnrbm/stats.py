"""Music statistics of piano rolls, to compare generated pieces with real ones.

A roll is a (T, V) binary array whose column j is MIDI pitch ``low + j``. Every
function takes a list of rolls (one per piece) and pools their steps, except
scale consistency, which is a per-piece measure (a piece has one key) averaged
over pieces.

* notes per step: its mean, standard deviation and distribution (the fraction of
  steps with 0, 1, 2, ... sounding notes);
* the rate of steps above a polyphony threshold (by default the reference
  data's 99th percentile of notes per step, so about 1% or less on the data);
* the silent-step rate (steps with no note);
* the pitch-class histogram (sounding note-steps per pitch class C, C#, ..., B,
  normalised), its Shannon entropy in bits (log2 12 = 3.585 for a uniform one)
  and its Jensen-Shannon distance to the reference's: the square root of the
  JS divergence in base 2, so 0 for identical and 1 for disjoint histograms;
* scale consistency: for each piece, the largest fraction of its sounding
  note-steps whose pitch class is in one scale, over the 24 major and minor keys
  (major: 0 2 4 5 7 9 11 above the tonic; minor is natural minor: 0 2 3 5 7 8 10),
  then the mean over pieces with at least one note.
"""

from __future__ import annotations

from typing import Optional

import numpy as np

PITCH_CLASSES = ("C", "C#", "D", "D#", "E", "F", "F#", "G", "G#", "A", "A#", "B")
MAJOR = (0, 2, 4, 5, 7, 9, 11)
NATURAL_MINOR = (0, 2, 3, 5, 7, 8, 10)
PERCENTILE = 99.0


def notes_per_step(rolls: list[np.ndarray]) -> np.ndarray:
    """Number of sounding notes at every step of every roll, concatenated: (sum of T,) int64."""
    counts = [np.count_nonzero(np.asarray(r), axis=1) for r in rolls if len(r)]
    return np.concatenate(counts).astype(np.int64) if counts else np.zeros(0, np.int64)


def polyphony_distribution(counts: np.ndarray, max_notes: Optional[int] = None) -> np.ndarray:
    """Fraction of steps with 0, 1, ..., ``max_notes`` notes (default: the largest count)."""
    counts = np.asarray(counts, np.int64)
    size = (int(counts.max(initial=0)) if max_notes is None else int(max_notes)) + 1
    hist = np.bincount(np.minimum(counts, size - 1), minlength=size).astype(np.float64)
    return hist / hist.sum() if hist.sum() else hist


def polyphony_percentile(counts: np.ndarray, q: float = PERCENTILE) -> float:
    """The ``q``-th percentile of notes per step (linear interpolation); NaN without steps."""
    return float(np.percentile(counts, q)) if len(counts) else float("nan")


def rate_above(counts: np.ndarray, threshold: float) -> float:
    """Fraction of steps with strictly more than ``threshold`` notes."""
    return float(np.mean(np.asarray(counts) > threshold)) if len(counts) else float("nan")


def silence_rate(counts: np.ndarray) -> float:
    """Fraction of steps with no sounding note."""
    return float(np.mean(np.asarray(counts) == 0)) if len(counts) else float("nan")


def pitch_class_counts(rolls: list[np.ndarray], low: int) -> np.ndarray:
    """Sounding note-steps per pitch class (index 0 = C), pooled over ``rolls``: (12,) float64."""
    out = np.zeros(12)
    for roll in rolls:
        roll = np.asarray(roll)
        if roll.size == 0:
            continue
        per_pitch = np.count_nonzero(roll, axis=0)
        np.add.at(out, (low + np.arange(roll.shape[1])) % 12, per_pitch)
    return out


def normalise(hist: np.ndarray) -> np.ndarray:
    """``hist / hist.sum()`` (all zeros stays all zeros)."""
    hist = np.asarray(hist, np.float64)
    total = hist.sum()
    return hist / total if total > 0 else hist


def entropy_bits(p: np.ndarray) -> float:
    """Shannon entropy ``-sum p log2 p`` of a distribution (normalised here; 0 log 0 = 0)."""
    p = normalise(p)
    nz = p[p > 0]
    return float(-(nz * np.log2(nz)).sum()) if len(nz) else float("nan")


def js_distance(p: np.ndarray, q: np.ndarray) -> float:
    """Jensen-Shannon distance in base 2: ``sqrt(JS divergence)``, in [0, 1].

    Both histograms are normalised first; NaN if either is empty.
    """
    p, q = normalise(p), normalise(q)
    if p.sum() == 0 or q.sum() == 0:
        return float("nan")
    m = 0.5 * (p + q)

    def kl(a: np.ndarray) -> float:
        nz = a > 0
        return float(np.sum(a[nz] * np.log2(a[nz] / m[nz])))

    divergence = 0.5 * kl(p) + 0.5 * kl(q)
    return float(np.sqrt(min(max(divergence, 0.0), 1.0)))


def scale_masks() -> tuple[list[str], np.ndarray]:
    """Names ("C major", ..., "B minor") and (24, 12) boolean membership of the 24 keys' scales."""
    names, masks = [], []
    for mode, steps in (("major", MAJOR), ("minor", NATURAL_MINOR)):
        for tonic in range(12):
            mask = np.zeros(12, bool)
            mask[[(tonic + s) % 12 for s in steps]] = True
            names.append(f"{PITCH_CLASSES[tonic]} {mode}")
            masks.append(mask)
    return names, np.array(masks)


def best_key(pc_counts: np.ndarray) -> tuple[str, float]:
    """The key whose scale holds the largest share of the notes, and that share (NaN if no notes)."""
    pc_counts = np.asarray(pc_counts, np.float64)
    total = pc_counts.sum()
    names, masks = scale_masks()
    if total <= 0:
        return "", float("nan")
    rates = masks.astype(np.float64) @ pc_counts / total
    best = int(np.argmax(rates))
    return names[best], float(rates[best])


def scale_consistency(rolls: list[np.ndarray], low: int) -> float:
    """Mean over pieces (with notes) of each piece's best in-key rate; NaN if no piece has notes."""
    rates = [best_key(pitch_class_counts([roll], low))[1] for roll in rolls]
    rates = [r for r in rates if np.isfinite(r)]
    return float(np.mean(rates)) if rates else float("nan")


def roll_statistics(rolls: list[np.ndarray], low: int, reference: Optional[dict] = None) -> dict:
    """All statistics of ``rolls`` as a JSON-ready dict.

    ``reference`` is the dict of the data these rolls are compared with: its 99th
    percentile sets the polyphony threshold and its histograms the JS distances.
    Without one the rolls are their own reference (distances 0).

    Keys: pieces, steps, notes_per_step_mean, notes_per_step_std, notes_per_step_dist
    (fractions of steps with 0, 1, ... notes), notes_per_step_js (JS distance of that
    distribution to the reference's), polyphony_p99, above_p99_threshold (the reference's
    99th percentile), above_p99_rate, silence_rate, pitch_class_dist (12 fractions,
    C first), pitch_class_js, pitch_class_entropy (bits), scale_consistency.
    """
    counts = notes_per_step(rolls)
    dist = polyphony_distribution(counts)
    pcs = normalise(pitch_class_counts(rolls, low))
    p99 = polyphony_percentile(counts)
    threshold = reference["polyphony_p99"] if reference else p99
    if reference:
        ref_dist = np.asarray(reference["notes_per_step_dist"])
        size = max(len(ref_dist), len(dist))
        poly_js = js_distance(np.pad(dist, (0, size - len(dist))), np.pad(ref_dist, (0, size - len(ref_dist))))
        pc_js = js_distance(pcs, np.asarray(reference["pitch_class_dist"]))
    else:
        poly_js = 0.0 if len(counts) else float("nan")
        pc_js = 0.0 if pcs.sum() else float("nan")
    return {
        "pieces": sum(1 for r in rolls if len(r)),
        "steps": int(len(counts)),
        "notes_per_step_mean": float(counts.mean()) if len(counts) else float("nan"),
        "notes_per_step_std": float(counts.std()) if len(counts) else float("nan"),
        "notes_per_step_dist": [float(x) for x in dist],
        "notes_per_step_js": poly_js,
        "polyphony_p99": p99,
        "above_p99_threshold": float(threshold),
        "above_p99_rate": rate_above(counts, threshold),
        "silence_rate": silence_rate(counts),
        "pitch_class_dist": [float(x) for x in pcs],
        "pitch_class_js": pc_js,
        "pitch_class_entropy": entropy_bits(pcs),
        "scale_consistency": scale_consistency(rolls, low),
    }
