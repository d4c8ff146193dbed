"""Grid searches on dask.distributed, against the same search in one process.

One ``GridSearchCV`` over a reshaper pipeline (8 candidates x 3 folds of a
``TimeSeriesSplit``; the reshaper trains its default forecaster in every fit)
is run three ways, each repetition in an alternating order:

- ``n_jobs=1`` in this process, without dask;
- under ``joblib.parallel_config(backend="dask")`` on a LocalCluster of one
  worker process (one thread);
- the same on a LocalCluster of two worker processes.

The clusters are started before the timed runs (a few seconds each, not
counted), and every repetition starts with empty caches on every side (the
default models and predictions each process keeps), so that no side reuses a
model another repetition trained. Compilation is paid once per side in an
untimed first run: JAX's persistent compilation cache (in a temporary folder)
lets every later model of the same shapes skip it, in this process and in the
workers alike.

Printed: the wall time of each side (median over the repetitions), the ratio
of one worker to ``n_jobs=1`` (the cost of the engine: shipping the pipeline
and the data to a worker and the results back; goal <= 1.2) and of two
workers to one (the speed-up of a second worker process on this machine).
Every search must find the same ``best_params_``, and its scores are compared
with those of ``n_jobs=1``.

Run from the repository root::

    python benchmarks/bench_dask.py             # weather data, 3 repetitions, about 5 minutes
    python benchmarks/bench_dask.py --repeats 1 # one repetition
"""

import argparse
import os
import statistics
import tempfile

# Before Keras (and so JAX) is first imported, here and in the workers, which
# inherit this process's environment.
os.environ.setdefault("JAX_COMPILATION_CACHE_DIR", tempfile.mkdtemp(prefix="bench_dask_jax_"))
os.environ.setdefault("JAX_PERSISTENT_CACHE_MIN_COMPILE_TIME_SECS", "0")
os.environ.setdefault("JAX_PERSISTENT_CACHE_MIN_ENTRY_SIZE_BYTES", "0")

import joblib
import numpy as np
from _common import print_summary, timed, versions

ENGINE_GOAL = 1.2
GRID = {
    "thresholdreshaper__contamination": [0.01, 0.02, 0.05, 0.1],
    "thresholdreshaper__action": ["interpolate", "forecast"],
}
N_SPLITS = 3


def search_on(X, y, client):
    """The grid search, in this process (``client`` None) or on ``client``'s cluster."""
    from sklearn.linear_model import Ridge
    from sklearn.model_selection import GridSearchCV, TimeSeriesSplit
    from sklearn.pipeline import make_pipeline

    from sklearn_lstm_reshape import ThresholdReshaper, clear_cache

    clear_cache()
    search = GridSearchCV(
        make_pipeline(ThresholdReshaper(random_state=0), Ridge()),
        GRID,
        cv=TimeSeriesSplit(N_SPLITS),
    )
    if client is None:
        return search.fit(X, y)
    client.run(clear_cache)
    with joblib.parallel_config(backend="dask"):
        return search.fit(X, y)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=3, help="timed runs of each side")
    args = parser.parse_args(argv)
    from distributed import Client, LocalCluster

    from sklearn_lstm_reshape import _keras
    from sklearn_lstm_reshape.datasets import load_seattle_weather

    _keras.import_keras()  # chooses the backend before versions() imports Keras
    print(versions())
    weather = load_seattle_weather()
    X = weather.data.astype(np.float32)
    y = np.roll(X[:, 1], -1)  # tomorrow's maximum temperature
    X, y = X[:-1], y[:-1]
    n_candidates = np.prod([len(values) for values in GRID.values()])
    print(
        f"GridSearchCV: {n_candidates} candidates x {N_SPLITS} folds of the Seattle weather "
        f"({X.shape[0]} days x {X.shape[1]} features), ThresholdReshaper(random_state=0) + Ridge"
    )
    clusters = {
        n_workers: LocalCluster(
            n_workers=n_workers, threads_per_worker=1, processes=True, dashboard_address=":0"
        )
        for n_workers in (1, 2)
    }
    clients = {n_workers: Client(cluster) for n_workers, cluster in clusters.items()}
    sides = {"n_jobs=1": None, "dask, 1 worker": clients[1], "dask, 2 workers": clients[2]}
    try:
        results = {name: search_on(X, y, client) for name, client in sides.items()}  # compiles
        seconds = {name: [] for name in sides}
        for repeat in range(args.repeats):
            order = list(sides) if repeat % 2 == 0 else list(sides)[::-1]
            for name in order:
                elapsed, results[name] = timed(lambda c=sides[name]: search_on(X, y, c))
                seconds[name].append(elapsed)
    finally:
        for client in clients.values():
            client.close()
        for cluster in clusters.values():
            cluster.close()

    local = results["n_jobs=1"]
    for name, result in results.items():
        gap = np.max(
            np.abs(result.cv_results_["mean_test_score"] - local.cv_results_["mean_test_score"])
        )
        same = result.best_params_ == local.best_params_
        print(
            f"  {name:<16} {statistics.median(seconds[name]):6.1f} s   best_params_ "
            f"{'the same' if same else 'DIFFERENT: ' + str(result.best_params_)}, "
            f"largest score difference {gap:.2g}"
        )
    one_worker = [
        d / s for d, s in zip(seconds["dask, 1 worker"], seconds["n_jobs=1"], strict=True)
    ]
    two_workers = [
        d / s for d, s in zip(seconds["dask, 2 workers"], seconds["dask, 1 worker"], strict=True)
    ]
    print_summary(
        [
            (
                "grid on 1 dask worker / n_jobs=1 without dask",
                statistics.median(one_worker),
                "<=",
                ENGINE_GOAL,
                ".2f",
            ),
            (
                "grid on 2 dask workers / 1 dask worker",
                statistics.median(two_workers),
                None,
                None,
                ".2f",
            ),
        ]
    )


if __name__ == "__main__":
    main()
