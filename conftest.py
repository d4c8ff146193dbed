"""Test configuration shared by the test suite and the doctests."""

import os
from pathlib import Path

# JAX compiles every new model and input shape (about a second each); a suite
# of many tiny fits is dominated by that unless compilations are cached on
# disk. This must happen before keras (and so jax) is first imported.
os.environ.setdefault(
    "JAX_COMPILATION_CACHE_DIR",
    str(Path.home() / ".cache" / "sklearn_lstm_reshape" / "jax"),
)
os.environ.setdefault("JAX_PERSISTENT_CACHE_MIN_COMPILE_TIME_SECS", "0")
os.environ.setdefault("JAX_PERSISTENT_CACHE_MIN_ENTRY_SIZE_BYTES", "0")
os.environ.setdefault("MPLBACKEND", "Agg")

from hypothesis import HealthCheck, settings

# Fixed example counts and no deadline: a first call compiles a model, which
# takes longer than any sensible deadline, and CI must not be flaky.
settings.register_profile(
    "ci",
    deadline=None,
    max_examples=20,
    derandomize=True,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
settings.register_profile(
    "dev",
    deadline=None,
    max_examples=10,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "ci" if os.environ.get("CI") else "dev"))
