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

Then a series larger than the memory it is transformed in: 50,000,000 rows x
4 features of float32 (800 MB; a few slow sines, noise and spikes) are
written to a zarr array on disk, chunk by chunk. ``ThresholdReshaper`` at its
defaults (repairs from repaired history) is fitted on the first 20,000 rows,
and transforms the whole array from zarr to zarr on the two-worker cluster.
Printed: each worker's peak resident memory during the transform above what
it held before (its Python, JAX, the estimator, and the model compiled and run
once in the thread its tasks run in), divided by the bytes of one chunk
(goal <= 4), and the rows per second against the in-memory
transform of a 2,000,000-row prefix in this process (goal >= 0.8; the median
of four runs, two before the out-of-core transform and two after), whose
result the out-of-core one must equal bit for bit. The clusters run without
dask's statistical profiler, whose hour of samples would otherwise grow each
worker with the length of the run, not with the chunks.

Run from the repository root::

    python benchmarks/bench_dask.py             # 3 repetitions, about 15 minutes
    python benchmarks/bench_dask.py --repeats 1 --rows 5000000  # quicker
"""

import argparse
import atexit
import os
import shutil
import statistics
import tempfile

# Before Keras (and so JAX) is first imported, here and in the workers, which
# inherit this process's environment (and so do not make caches of their own).
if "JAX_COMPILATION_CACHE_DIR" not in os.environ:
    os.environ["JAX_COMPILATION_CACHE_DIR"] = tempfile.mkdtemp(prefix="bench_dask_jax_")
    atexit.register(shutil.rmtree, os.environ["JAX_COMPILATION_CACHE_DIR"], ignore_errors=True)
os.environ.setdefault("JAX_PERSISTENT_CACHE_MIN_COMPILE_TIME_SECS", "0")
os.environ.setdefault("JAX_PERSISTENT_CACHE_MIN_ENTRY_SIZE_BYTES", "0")

import dask
import joblib
import numpy as np
from _common import (
    high_water_mark_bytes,
    print_summary,
    reset_high_water_mark,
    rss_bytes,
    timed,
    versions,
)

# The workers import this folder's helpers too.
os.environ["PYTHONPATH"] = os.pathsep.join(
    filter(None, [os.path.dirname(os.path.abspath(__file__)), os.environ.get("PYTHONPATH")])
)

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


N_FEATURES = 4
FIT_ROWS = 20_000
IN_MEMORY_ROWS = 2_000_000
IN_MEMORY_REPEATS = 4
MEMORY_GOAL = 4.0
THROUGHPUT_GOAL = 0.8


def series_rows(start, stop):
    """Rows ``start .. stop - 1`` of the long series, the same whichever block
    they are made in: slow sines, noise, and a spike every 9,973 rows."""
    time_axis = np.arange(start, stop, dtype=np.float64)[:, None]
    periods = np.array([97.0, 480.0, 1440.0, 10080.0])
    X = np.sin(time_axis * (2 * np.pi / periods))
    X += 0.1 * np.random.default_rng(start).standard_normal(X.shape)
    X[(time_axis[:, 0] % 9973) == 0] += 3.0
    return X.astype(np.float32)


def written_series(path, n_rows, chunk_rows):
    """The long series as a zarr array at ``path``, written chunk by chunk."""
    import zarr

    array = zarr.create_array(
        store=path,
        shape=(n_rows, N_FEATURES),
        chunks=(chunk_rows, N_FEATURES),
        dtype="float32",
        compressors=None,
    )
    for start in range(0, n_rows, chunk_rows):
        stop = min(start + chunk_rows, n_rows)
        array[start:stop] = series_rows(start, stop)
    return array


def out_of_core(client, n_rows, chunk_rows, directory):
    """Transform a zarr series on ``client``'s workers: (peak extra bytes per
    worker / chunk bytes, out-of-core rows/s / in-memory rows/s, whether the
    results agree)."""
    import dask.array as da
    import zarr

    from sklearn_lstm_reshape import ThresholdReshaper, clear_cache

    print(
        f"Out of core: ThresholdReshaper(random_state=0) fitted on {FIT_ROWS} rows, "
        f"transforming {n_rows} x {N_FEATURES} float32 rows in zarr chunks of {chunk_rows} rows"
    )
    source = written_series(f"{directory}/series.zarr", n_rows, chunk_rows)
    X = da.from_zarr(source)
    reshaper = ThresholdReshaper(random_state=0).fit(X[:FIT_ROWS].compute())
    prefix = X[:IN_MEMORY_ROWS].compute()
    reshaper.transform(prefix[:100_000])  # compiles

    # The in-memory side is timed twice before and twice after the out-of-core
    # run and the median taken: one run varied by a third on this machine.
    # Each starts with no cached predictions, or it would measure the cache.
    def in_memory():
        clear_cache()
        return timed(lambda: reshaper.transform(prefix))

    first_seconds, expected = in_memory()  # the other runs' results are not kept
    in_memory_seconds = [first_seconds]
    in_memory_seconds += [in_memory()[0] for _ in range(IN_MEMORY_REPEATS // 2 - 1)]
    # Compiles the model on each worker, in the thread its tasks run in: what
    # the model costs once per worker (its compiled forward pass, the scratch
    # memory of a batch) is not counted against the chunks.
    client.gather(
        [
            client.submit(reshaper.transform, prefix[:100_000], workers=[worker], pure=False)
            for worker in client.scheduler_info()["workers"]
        ]
    )
    if not all(client.run(reset_high_water_mark).values()):
        raise RuntimeError("the workers' peak memory cannot be reset (/proc/self/clear_refs)")
    before = client.run(rss_bytes)
    target = f"{directory}/transformed.zarr"
    seconds, _ = timed(lambda: reshaper.transform(X).to_zarr(target, compute=True))
    peaks = client.run(high_water_mark_bytes)
    chunk_bytes = chunk_rows * N_FEATURES * 4
    extra = [peaks[worker] - before[worker] for worker in peaks]
    same = np.array_equal(zarr.open_array(target)[:IN_MEMORY_ROWS], expected)
    in_memory_seconds += [in_memory()[0] for _ in range(IN_MEMORY_REPEATS - IN_MEMORY_REPEATS // 2)]
    in_memory_rate = IN_MEMORY_ROWS / statistics.median(in_memory_seconds)
    print(
        f"  in memory    {in_memory_rate:10,.0f} rows/s (median of "
        f"{', '.join(f'{IN_MEMORY_ROWS / s:,.0f}' for s in in_memory_seconds)})\n"
        f"  out of core  {n_rows / seconds:10,.0f} rows/s ({seconds:.0f} s); peak extra "
        f"memory per worker {', '.join(f'{e / 2**20:.0f} MiB' for e in extra)} for chunks "
        f"of {chunk_bytes / 2**20:.0f} MiB; the first {IN_MEMORY_ROWS} rows "
        f"{'equal' if same else 'DIFFER from'} the in-memory transform's"
    )
    return max(extra) / chunk_bytes, (n_rows / seconds) / in_memory_rate


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=3, help="timed runs of each side")
    parser.add_argument("--rows", type=int, default=50_000_000, help="rows of the long series")
    parser.add_argument("--chunk-rows", type=int, default=1_000_000, help="rows per zarr chunk")
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
    # Without dask's statistical profiler, which samples every worker thread
    # and keeps an hour of samples: on the out-of-core transform it grew a
    # worker by about 0.1 MiB a second, whatever the chunks.
    with dask.config.set({"distributed.worker.profile.enabled": False}):
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
        with tempfile.TemporaryDirectory(prefix="bench_dask_") as directory:
            memory, throughput = out_of_core(clients[2], args.rows, args.chunk_rows, directory)
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
            ("out of core: peak extra memory per worker / chunk", memory, "<=", MEMORY_GOAL, ".1f"),
            ("out of core: rows/s / in-memory rows/s", throughput, ">=", THROUGHPUT_GOAL, ".2f"),
        ]
    )


if __name__ == "__main__":
    main()
