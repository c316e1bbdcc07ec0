"""rnnrbm: learn polyphonic music from MIDI files with an RNN-RBM and compose new music.

The package is importable without pulling in Numba; heavy modules load lazily
when a command needs them.
"""

__version__ = "0.1.0"
