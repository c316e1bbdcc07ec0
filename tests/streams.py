"""The kernels' documented per-chain splitmix64 random stream, replayed in Python integers."""

import numpy as np

MASK = (1 << 64) - 1
G, M1, M2 = 0x9E3779B97F4A7C15, 0xBF58476D1CE4E5B9, 0x94D049BB133111EB


def mix(z: int) -> int:
    z = ((z ^ (z >> 30)) * M1) & MASK
    z = ((z ^ (z >> 27)) * M2) & MASK
    return z ^ (z >> 31)


class Stream:
    """Uniforms of chain ``chain`` for ``seed``: two per 64-bit draw, high half first."""

    def __init__(self, seed: int, chain: int):
        self.state = mix((seed + M2) & MASK) ^ mix((chain * G + M1) & MASK)

    def uniforms(self, n: int) -> np.ndarray:
        out = []
        while len(out) < n:
            self.state = (self.state + G) & MASK
            z = mix(self.state)
            out += [(z >> 32) / 2**32, (z & 0xFFFFFFFF) / 2**32]
        return np.array(out[:n])
