"""Speed and memory of ThresholdReshaper, as ratios measured side by side.

Every figure is a ratio of two things measured in the same run, so that the
result does not depend on how fast (or how busy) the machine is:

1. throughput: ``transform`` of a 2-D series against the bare Keras forward
   pass over the same, already materialised, windows;
2. memory: the peak extra resident memory of ``transform`` against the bytes
   of X, measured in a fresh subprocess;
3. grid search: ``GridSearchCV`` over 8 thresholds x 3 folds against one
   ``fit`` + ``score`` per fold of the same pipeline.

The forecaster is ``make_forecaster(window, 8, units=64)`` with its untrained
(randomly initialised) weights: the cost of a forward pass does not depend on
the values of the weights.

Run from the repository root::

    python benchmarks/bench_threshold.py           # full sizes (see the README on [3])
    python benchmarks/bench_threshold.py --quick   # small sizes, smoke test
"""

import argparse
import functools
import gc
import json
import os
import statistics
import subprocess
import sys
import time

import numpy as np
from _common import (
    N_FEATURES,
    interleaved,
    make_series,
    materialised_windows,
    paired_ratio,
    peak_extra,
    print_summary,
    rss_bytes,
    versions,
)

UNITS = 64
BATCH_SIZE = 4096
# Rows the reshapers are fitted on. At least BATCH_SIZE windows, so that the
# fit (and the warm-ups) already compile the full-batch forward pass that the
# timed calls use.
FIT_ROWS = 20_000

SIZES = {
    "full": {
        "throughput_rows": 200_000,
        "throughput_window": 32,
        "memory_rows": 2_000_000,
        "memory_window": 64,
        "grid_rows": 200_000,
        "grid_window": 32,
        "repeats": 7,
        "grid_repeats": 3,
    },
    "quick": {
        "throughput_rows": 20_000,
        "throughput_window": 32,
        "memory_rows": 100_000,
        "memory_window": 64,
        "grid_rows": 20_000,
        "grid_window": 32,
        "repeats": 3,
        "grid_repeats": 2,
    },
}

GRID_THRESHOLDS = [float(t) for t in np.linspace(0.5, 4.0, 8)]
GRID_FOLDS = 3


# -- helpers -------------------------------------------------------------------


def mib(n_bytes):
    return n_bytes / 2**20


# -- 1. transform throughput vs. the bare forward pass ---------------------------


def bench_throughput(rows, window, repeats):
    from sklearn_lstm_reshape import ThresholdReshaper, clear_cache
    from sklearn_lstm_reshape.models import make_forecaster

    print(
        f"\n[1] transform throughput: {rows:,} rows x {N_FEATURES} features, "
        f"window {window}, LSTM({UNITS}), {repeats} repetitions"
    )
    X = make_series(rows)
    model = make_forecaster(window, N_FEATURES, units=UNITS)
    windows = materialised_windows(X, window)  # not part of the bare timing
    n_windows = len(windows)

    # The one pass over the windows that the goal is about; the free runs of
    # the default (span, 20 more passes under contamination="auto") are timed
    # on their own below.
    reshaper = ThresholdReshaper(model, window=window, action="forecast", span=None)
    reshaper.fit(X[:FIT_ROWS])

    def bare():
        return model.predict(windows, batch_size=BATCH_SIZE, verbose=0)

    def transform():
        # Predictions are cached by (model, data, window): without this the
        # call would be a cache hit and never run the model.
        clear_cache()
        return reshaper.transform(X)

    # Warm-up: compiles the forward pass for every batch shape either path
    # uses, and checks that both paths run the model on the same windows (the
    # residual of row t is |x_t - forecast from the window ending at t - 1|).
    bare_predictions = bare()
    X_new = transform()
    assert X_new.shape == X.shape and X_new.dtype == X.dtype
    residuals = reshaper.score_samples(X)[window:]
    expected = np.abs(X[window:] - bare_predictions[:-1])
    np.testing.assert_allclose(residuals, expected, rtol=1e-4, atol=1e-4)
    del bare_predictions, X_new, residuals, expected

    bare_times, transform_times = interleaved([bare, transform], repeats)
    clear_cache()

    bare_rate = n_windows / statistics.median(bare_times)
    transform_rate = n_windows / statistics.median(transform_times)
    # transform throughput / bare throughput = bare time / transform time
    ratio, low, high = paired_ratio(bare_times, transform_times)
    print(
        f"    bare model.predict : {bare_rate:12,.0f} windows/s "
        f"(median {statistics.median(bare_times):.3f} s)"
    )
    print(
        f"    transform          : {transform_rate:12,.0f} windows/s "
        f"(median {statistics.median(transform_times):.3f} s)"
    )
    print(
        f"    ratio transform/bare throughput: {ratio:.3f} "
        f"(per-repetition range {low:.3f} .. {high:.3f})"
    )
    with_spans = ThresholdReshaper(model, window=window, action="forecast").fit(X[:FIT_ROWS])
    clear_cache()
    started = time.perf_counter()
    with_spans.transform(X)
    spans_time = time.perf_counter() - started
    clear_cache()
    print(
        f"    transform, default span={with_spans.span_} (one repetition): "
        f"{n_windows / spans_time:12,.0f} windows/s, ratio to bare "
        f"{statistics.median(bare_times) / spans_time:.3f} (no goal: free runs cost "
        f"span forward passes)"
    )
    return ratio


# -- 2. peak memory of transform, in a fresh subprocess --------------------------
#
# Method. A child process (this script with --memory-child) builds X, fits on
# its first FIT_ROWS rows and runs a warm-up transform on them, so that the
# Keras/JAX imports, the XLA compilation of the full-batch forward pass and
# the first-use allocations of the allocators are paid before measuring. It
# then clears the prediction cache, collects garbage and reads its resident
# set size (RSS) as the baseline, with X already resident.
#
# The peak over the transform call is the kernel's high-water mark: writing
# "5" to /proc/self/clear_refs resets VmHWM to the current RSS, so VmHWM after
# the call is the highest RSS reached during it. A thread that samples the RSS
# every 2 ms runs alongside, as a cross-check and as the fallback where
# clear_refs is not available (sampling can miss a short peak); the larger of
# the two is used.
#
# "peak extra" is that peak minus the baseline. It includes the predictions,
# which the prediction cache keeps after the call: (n_windows, n_features)
# float32. The first figure leaves those cached bytes out (the working memory
# of transform beyond what it leaves cached); the second counts them. The RSS
# released by clear_cache() afterwards is printed as a cross-check
# of the cached size. For reference, the child also measures the peak of one
# bare model.predict over a block of 2 * BATCH_SIZE windows: the forward
# pass's own working memory, which transform pays too and which does not
# grow with the length of the series.


def memory_child(rows, window):
    """Measure one transform's memory; print the figures as one JSON line."""
    from sklearn_lstm_reshape import ThresholdReshaper, clear_cache
    from sklearn_lstm_reshape.models import make_forecaster

    X = make_series(rows)
    model = make_forecaster(window, N_FEATURES, units=UNITS)
    reshaper = ThresholdReshaper(model, window=window, action="forecast", span=None)
    reshaper.fit(X[:FIT_ROWS])
    clear_cache()
    reshaper.transform(X[:FIT_ROWS])  # warm-up
    clear_cache()

    block = materialised_windows(X[: 2 * BATCH_SIZE + window - 1], window)
    forward = functools.partial(model.predict, block, batch_size=BATCH_SIZE, verbose=0)
    forward_extra, *_ = peak_extra(forward)
    del forward, block

    # X_new is kept until the end so that the RSS released by clearing the
    # cache is the cached predictions alone.
    extra, exact, seconds, X_new = peak_extra(lambda: reshaper.transform(X))
    before_clear = rss_bytes()
    clear_cache()
    gc.collect()
    n_windows = len(X) - window + 1
    print(
        json.dumps(
            {
                "x_bytes": X.nbytes,
                "peak_extra": extra,
                "exact": exact,
                "seconds": seconds,
                "cache_bytes": 4 * n_windows * int(np.prod(model.output_shape[1:])),
                "cache_rss_released": before_clear - rss_bytes(),
                "forward_extra": forward_extra,
            }
        )
    )
    del X_new


def bench_memory(rows, window):
    print(
        f"\n[2] transform peak memory: {rows:,} rows x {N_FEATURES} features "
        f"float32, window {window}, LSTM({UNITS}), in a fresh subprocess"
    )
    child = subprocess.run(
        [sys.executable, os.path.abspath(__file__), "--memory-child", str(rows), str(window)],
        capture_output=True,
        text=True,
        check=False,
    )
    if child.returncode != 0:
        sys.stderr.write(child.stdout + child.stderr)
        raise RuntimeError("the memory subprocess failed (its output is above)")
    figures = json.loads(child.stdout.strip().splitlines()[-1])
    x_bytes = figures["x_bytes"]
    without_cache = (figures["peak_extra"] - figures["cache_bytes"]) / x_bytes
    with_cache = figures["peak_extra"] / x_bytes
    method = "kernel high-water mark (VmHWM)" if figures["exact"] else "RSS sampled every 2 ms"
    print(
        f"    X: {mib(x_bytes):.1f} MiB; transform took {figures['seconds']:.1f} s; "
        f"peak by {method}"
    )
    print(f"    peak extra RSS during transform: {mib(figures['peak_extra']):.1f} MiB")
    print(
        f"    cached predictions: {mib(figures['cache_bytes']):.1f} MiB "
        f"(RSS released by clearing the cache: "
        f"{mib(figures['cache_rss_released']):.1f} MiB)"
    )
    print(
        f"    for reference, one bare model.predict of {2 * BATCH_SIZE:,} windows: "
        f"peak extra {mib(figures['forward_extra']):.1f} MiB "
        f"({figures['forward_extra'] / x_bytes:.2f} x X)"
    )
    print(
        f"    peak extra / X bytes: {without_cache:.2f} without the cached "
        f"predictions, {with_cache:.2f} with them"
    )
    return without_cache, with_cache


# -- 3. GridSearchCV vs. one fit + score per fold --------------------------------


def bench_grid(rows, window, repeats):
    from sklearn.base import clone
    from sklearn.linear_model import Ridge
    from sklearn.model_selection import GridSearchCV, TimeSeriesSplit
    from sklearn.pipeline import make_pipeline

    from sklearn_lstm_reshape import ThresholdReshaper, clear_cache
    from sklearn_lstm_reshape.models import make_forecaster

    print(
        f"\n[3] GridSearchCV: {rows:,} rows x {N_FEATURES} features, window "
        f"{window}, {len(GRID_THRESHOLDS)} thresholds x {GRID_FOLDS} "
        f"TimeSeriesSplit folds, {repeats} repetitions"
    )
    # Target: the next value of feature 0, a one-step-ahead regression.
    series = make_series(rows + 1)
    X, y = series[:-1], series[1:, 0]
    model = make_forecaster(window, N_FEATURES, units=UNITS)
    pipe = make_pipeline(
        ThresholdReshaper(
            model,
            window=window,
            action="forecast",
            threshold=GRID_THRESHOLDS[len(GRID_THRESHOLDS) // 2],
        ),
        Ridge(),
    )
    cv = TimeSeriesSplit(GRID_FOLDS)

    def grid_search():
        clear_cache()  # both sides start cold
        search = GridSearchCV(
            pipe,
            {"thresholdreshaper__threshold": GRID_THRESHOLDS},
            cv=cv,
            n_jobs=1,
            refit=False,
            error_score="raise",
        )
        return search.fit(X, y)

    def one_fit_per_fold():
        clear_cache()
        scores = []
        for train, test in cv.split(X):
            fold_pipe = clone(pipe).fit(X[train], y[train])
            scores.append(fold_pipe.score(X[test], y[test]))
        return scores

    one_fit_per_fold()  # warm-up: compile, first-use allocations
    grid_times, fold_times = interleaved([grid_search, one_fit_per_fold], repeats)
    clear_cache()

    ratio, low, high = paired_ratio(grid_times, fold_times)
    print(f"    one fit + score per fold : median {statistics.median(fold_times):.2f} s")
    print(
        f"    GridSearchCV ({len(GRID_THRESHOLDS) * GRID_FOLDS} fits)    : "
        f"median {statistics.median(grid_times):.2f} s"
    )
    print(f"    ratio grid / per-fold: {ratio:.3f} (per-repetition range {low:.3f} .. {high:.3f})")
    return ratio


# -- driver --------------------------------------------------------------------


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="much smaller sizes: a smoke test")
    parser.add_argument(
        "--repeats",
        type=int,
        default=None,
        help="timed repetitions per side (default: 7 for [1] and 3 for [3]; 3 and 2 with --quick)",
    )
    parser.add_argument(
        "--memory-child", nargs=2, type=int, metavar=("ROWS", "WINDOW"), help=argparse.SUPPRESS
    )  # internal: the subprocess of [2]
    args = parser.parse_args(argv)

    if args.memory_child:
        memory_child(*args.memory_child)
        return 0

    sizes = SIZES["quick" if args.quick else "full"]
    repeats = args.repeats or sizes["repeats"]
    grid_repeats = args.repeats or sizes["grid_repeats"]
    start = time.perf_counter()

    from sklearn_lstm_reshape.models import make_forecaster

    make_forecaster(8, N_FEATURES, units=4)  # imports Keras with the package's backend
    print(f"ThresholdReshaper benchmarks ({'quick' if args.quick else 'full'} sizes)")
    print(versions())
    print("Forecaster: make_forecaster(window, 8, units=64), untrained weights.")

    throughput = bench_throughput(sizes["throughput_rows"], sizes["throughput_window"], repeats)
    memory, memory_with_cache = bench_memory(sizes["memory_rows"], sizes["memory_window"])
    grid = bench_grid(sizes["grid_rows"], sizes["grid_window"], grid_repeats)

    print_summary(
        [
            ("[1] transform / bare forward throughput", throughput, ">=", 0.90, ".3f"),
            ("[2] transform peak extra memory / X bytes", memory, "<=", 3.0, ".3f"),
            ("[2] same, prediction cache counted", memory_with_cache, "<=", 3.0, ".3f"),
            (
                f"[3] GridSearchCV {len(GRID_THRESHOLDS)}x{GRID_FOLDS} / one fit per fold",
                grid,
                "<=",
                1.5,
                ".3f",
            ),
        ]
    )
    if args.quick:
        print(
            "Quick sizes are a smoke test: the goals apply to the full sizes (at "
            "these sizes the\nfixed working memory of the forward pass dominates "
            "the memory ratio)."
        )
    print(f"Total time: {time.perf_counter() - start:.0f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
