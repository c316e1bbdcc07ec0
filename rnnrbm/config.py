"""Configurations: frozen dataclasses stored in every checkpoint's metadata.

Kept free of NumPy and Numba so the CLI can take its defaults from here
without slowing ``rnnrbm --help``.
"""

from __future__ import annotations

from dataclasses import dataclass

from rnnrbm.errors import UsageError

PARAM_NAMES = ("W", "bv", "bh", "bn", "Wuv", "Wuh", "Wvu", "Wuu", "bu", "u0")
RNN_PARAM_NAMES = ("Wvu", "Wuu", "bu", "u0")
CD_STARTS = ("data", "previous", "mixed", "persistent")  # where CD chains start (see rnnrbm.gradients.chain_starts)


@dataclass(frozen=True)
class ModelConfig:
    """Sizes of an RNN-RBM; saved in every checkpoint's metadata.

    ``count_bias`` adds the count bias ``bn`` (V + 1,) to the RBM: an energy term
    ``-bn[n(v)]`` for the number of notes ``n(v)`` (without it ``bn`` has shape (0,)).
    """

    n_visible: int = 36
    n_hidden: int = 150
    n_recurrent: int = 100
    count_bias: bool = False

    def shapes(self) -> dict[str, tuple[int, ...]]:
        """Shape of every parameter, keyed by name, in :data:`PARAM_NAMES` order."""
        V, H, R = self.n_visible, self.n_hidden, self.n_recurrent
        return {
            "W": (V, H), "bv": (V,), "bh": (H,), "bn": (V + 1,) if self.count_bias else (0,),
            "Wuv": (R, V), "Wuh": (R, H),
            "Wvu": (V, R), "Wuu": (R, R), "bu": (R,), "u0": (R,),
        }


@dataclass(frozen=True)
class TrainConfig:
    """Everything that shapes a training run; saved in the checkpoint's metadata."""

    epochs: int = 100
    gradient: str = "rtrl"          # "rtrl" or "bptt"
    cd_k: int = 15
    cd_start: str = "data"          # one of CD_STARTS; "previous" starts chains where generation does
    batch: int = 16                 # B parallel streams
    chunk: int = 25                 # L steps per update
    dtype: str = "float32"
    lr: float = 1e-2                # RBM part (1e-3 and 3e-3 learned slower on JSB)
    lr_rnn: float = 1e-2            # recurrent part
    clip: float = 5.0               # global norm of the per-frame gradient
    lr_decay: float = 1.0           # multiply both rates by this after an epoch without a better valid ACC,
    lr_decay_from: int = 0          # ... or, if > 0, after every epoch from this one on (an annealed end)
    negative_batch: int = 4         # random songs per update
    negative_p: float = 0.75
    negative_weight: float = 0.003  # lambda; 0 switches it off (0.01+ cost accuracy on JSB)
    pretrain_epochs: int = 0        # RBM pretraining on single frames
    pretrain_rnn_epochs: int = 0    # logistic-RNN pretraining of the recurrent net, before the RBM's
    patience: int = 10
    max_minutes: float = 0.0        # wall-clock budget (training, validation, pretraining); 0 means none
    seed: int = 0
    valid_gibbs: int = 5
    valid_samples: int = 1

    def check(self) -> None:
        """Raise :class:`UsageError` naming the first bad value."""
        positive = ("epochs", "cd_k", "batch", "chunk", "valid_gibbs", "valid_samples", "patience")
        for name in positive:
            if getattr(self, name) < 1:
                raise UsageError(f"--{name.replace('_', '-')} must be at least 1 (got {getattr(self, name)})")
        if self.gradient not in ("rtrl", "bptt"):
            raise UsageError(f"--gradient must be 'rtrl' or 'bptt' (got {self.gradient!r})")
        if self.cd_start not in CD_STARTS:
            raise UsageError(f"--cd-start must be one of {', '.join(CD_STARTS)} (got {self.cd_start!r})")
        if self.dtype not in ("float32", "float64"):
            raise UsageError(f"--dtype must be 'float32' or 'float64' (got {self.dtype!r})")
        if self.lr <= 0 or self.lr_rnn <= 0:
            raise UsageError("learning rates must be positive")
        if not 0 < self.lr_decay <= 1:
            raise UsageError(f"--lr-decay must be in (0, 1] (got {self.lr_decay})")
        if self.lr_decay_from and self.lr_decay == 1:
            raise UsageError(f"--lr-decay-from {self.lr_decay_from} needs a --lr-decay below 1 (e.g. 0.8) to "
                             "decay by")
        if not 0.5 < self.negative_p <= 1.0:
            raise UsageError(f"--negative-p must be in (0.5, 1] (got {self.negative_p})")
        if self.max_minutes < 0:
            raise UsageError(f"--max-minutes must be >= 0 (got {self.max_minutes}); 0 means no time limit")
        if min(self.negative_weight, self.negative_batch, self.pretrain_epochs, self.pretrain_rnn_epochs,
               self.clip, self.lr_decay_from) < 0:
            raise UsageError("--negative-weight, --negative-batch, --pretrain-epochs, --pretrain-rnn-epochs, "
                             "--clip and --lr-decay-from must be >= 0")
