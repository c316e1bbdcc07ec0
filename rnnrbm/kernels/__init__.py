"""All Numba kernels, each behind a thin wrapper that checks shapes and dtypes.

Kernels take arrays and scalars only and are compiled with ``cache=True`` so a
second process does not compile again. Randomness never comes from global
state: callers pass uniforms drawn from a ``numpy.random.Generator``, or an
explicit integer seed for the generation loop. Large matrix products stay in
NumPy (BLAS); the kernels fuse the elementwise and sparse work around them.

One module per concept; import the wrappers from here:

- :mod:`~rnnrbm.kernels.streams`: helpers shared by the sampling kernels (per-chain
  splitmix64 streams, the logistic, sparse row sums, the exact visible draw under a count
  bias ``bn``, which :func:`gibbs_chains`, :func:`generate_frames` and
  :func:`ais_log_weights` take as an option);
- :mod:`~rnnrbm.kernels.gibbs`: :func:`gibbs_chains`, block Gibbs chains for CD-k;
- :mod:`~rnnrbm.kernels.rtrl`: :func:`rtrl_reset`, :func:`rtrl_immediate` (and the
  sensitivity layout);
- :mod:`~rnnrbm.kernels.generate`: :func:`generate_frames`, the generation loop;
- :mod:`~rnnrbm.kernels.ais`: :func:`ais_log_weights`, annealed importance sampling, and
  :func:`reverse_ais_log_weights`, its reverse (RAISE).

Numba's cache is invalidated only by changes to the file that defines a kernel, not
to the files of the functions and globals it uses: after editing ``streams.py``,
delete ``rnnrbm/kernels/__pycache__`` so that the other modules recompile.
"""

from rnnrbm.kernels.ais import AIS_SERIES_MAX, ais_log_weights, reverse_ais_log_weights
from rnnrbm.kernels.generate import generate_frames
from rnnrbm.kernels.gibbs import gibbs_chains
from rnnrbm.kernels.rtrl import rtrl_immediate, rtrl_reset

__all__ = ["AIS_SERIES_MAX", "ais_log_weights", "generate_frames", "gibbs_chains", "reverse_ais_log_weights",
           "rtrl_immediate", "rtrl_reset"]
