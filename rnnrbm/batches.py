"""Laying pieces out as B parallel streams cut into chunks of L steps.

Each stream plays whole pieces back to back. A piece may start in the middle
of a chunk (``first`` marks its first frame, where the RNN state resets to
``u0``), so no frames are wasted on padding except at the end of the epoch.
Pieces are shuffled every epoch and dealt longest-first to the shortest stream,
so the streams end at nearly the same time.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Iterator

import numpy as np


@dataclass
class Chunk:
    """B streams of L frames: v (B, L, V) float, first (B, L) bool, valid (B, L) bool."""

    v: np.ndarray
    first: np.ndarray
    valid: np.ndarray


def epoch_chunks(pieces: list[np.ndarray], n_streams: int, chunk: int, rng: np.random.Generator,
                 dtype=np.float32) -> Iterator[Chunk]:
    """Yield the chunks of one epoch over ``pieces`` (each (T, V) binary).

    Empty pieces are skipped. Streams that run out early are padded with
    ``valid = False`` frames.
    """
    pieces = [p for p in pieces if len(p)]
    if not pieces:
        return
    V = pieces[0].shape[1]
    order = rng.permutation(len(pieces))
    # Longest first, stable on the shuffled order: balanced streams, random contents.
    order = sorted(order, key=lambda i: -len(pieces[i]))
    streams: list[list[int]] = [[] for _ in range(n_streams)]
    totals = np.zeros(n_streams, dtype=np.int64)
    for i in order:
        s = int(np.argmin(totals))
        streams[s].append(i)
        totals[s] += len(pieces[i])
    for s in streams:  # undo the length sort inside each stream
        rng.shuffle(s)
    n_steps = -(-int(totals.max()) // chunk) * chunk
    v = np.zeros((n_streams, n_steps, V), dtype=dtype)
    first = np.zeros((n_streams, n_steps), dtype=bool)
    valid = np.zeros((n_streams, n_steps), dtype=bool)
    for b, s in enumerate(streams):
        pos = 0
        for i in s:
            T = len(pieces[i])
            v[b, pos:pos + T] = pieces[i]
            first[b, pos] = True
            valid[b, pos:pos + T] = True
            pos += T
    for start in range(0, n_steps, chunk):
        sl = slice(start, start + chunk)
        yield Chunk(np.ascontiguousarray(v[:, sl]), np.ascontiguousarray(first[:, sl]),
                    np.ascontiguousarray(valid[:, sl]))


def random_songs(n_songs: int, length: int, n_visible: int, p: float, rng: np.random.Generator,
                 dtype=np.float32) -> Chunk:
    """Fresh random dense "songs" for the negative-gradient regularizer.

    Every note is on independently with probability ``p``; each song is one
    whole piece (``first`` at step 0, all frames valid).
    """
    v = (rng.random((n_songs, length, n_visible)) < p).astype(dtype)
    first = np.zeros((n_songs, length), dtype=bool)
    first[:, 0] = True
    return Chunk(v, first, np.ones((n_songs, length), dtype=bool))
