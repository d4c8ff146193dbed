"""Peak extra memory of every estimator's ``transform``, against the bytes of X.

Each configuration runs in a fresh subprocess (this script with --child): it
builds a float32 series of ROWS x 4 features, fits the estimator on its first
FIT_ROWS rows with small networks, runs a warm-up transform on those rows (so
that imports, XLA compilation and the allocators' first-use memory are paid
before measuring), clears the prediction cache, and then measures the peak
resident memory of one ``transform(X)`` above the RSS just before it, by the
kernel's high-water mark (see ``_common.peak_extra``). The ratio printed is
that peak ÷ X's bytes, counting everything transform allocates: the wrapped
model's predictions (which the prediction cache keeps afterwards), the
result, and the working memory of the networks.

The same transform peaks differently from run to run (on the searches, 3.4x
to 4.9x X in one afternoon): the C allocator keeps freed buffers of the
networks' batches for reuse, and how much it keeps depends on how the
threads' allocations interleave. Each configuration is therefore measured
REPEATS times, each in a fresh subprocess; the goal is judged on the median,
and the range is printed beside it.

Run from the repository root::

    python benchmarks/bench_memory.py            # 1,000,000 rows, about 30 minutes
    python benchmarks/bench_memory.py --quick    # 100,000 rows, once each: a smoke test
"""

import argparse
import json
import os
import statistics
import subprocess
import sys

from _common import make_series, peak_extra, print_summary, versions

N_FEATURES = 4
WINDOW = 24
FIT_ROWS = 20_000
GOAL = 4.0
REPEATS = 3
# The networks the estimators train in fit: small, since only transform is measured.
SMALL_NETWORKS = dict(latent_dim=8, units=16, epochs=1, random_state=0)

CONFIGURATIONS = {
    "ThresholdReshaper, action='forecast'": (
        "ThresholdReshaper",
        dict(action="forecast"),
    ),
    "GenerativeReshaper, a request, mode='edit' (5 refinement steps)": (
        "GenerativeReshaper",
        dict(condition=0.5, mode="edit", refine_steps=5, **SMALL_NETWORKS),
    ),
    "GenerativeReshaper, regeneration, stochastic=True": (
        "GenerativeReshaper",
        dict(mode="regenerate", stochastic=True, **SMALL_NETWORKS),
    ),
    "LatentReshaper, edit='noise'": (
        "LatentReshaper",
        dict(edit="noise", **SMALL_NETWORKS),
    ),
    "LatentReshaper, edit='shift', mode='edit'": (
        "LatentReshaper",
        dict(edit="shift", mode="edit", **SMALL_NETWORKS),
    ),
    "LatentReshaper, edit='optimize' (5 steps)": (
        "LatentReshaper",
        dict(edit="optimize", target=0.5, steps=5, **SMALL_NETWORKS),
    ),
    "CounterfactualReshaper, every forecast +1 sd (5 steps)": (
        "CounterfactualReshaper",
        dict(steps=5),
    ),
}


def child(name, rows):
    import sklearn_lstm_reshape
    from sklearn_lstm_reshape import _cache
    from sklearn_lstm_reshape.models import train_forecaster

    class_name, params = CONFIGURATIONS[name]
    X = make_series(rows, N_FEATURES)
    model = train_forecaster(X[:FIT_ROWS], window=WINDOW, units=16, epochs=1, random_state=0)
    reshaper = getattr(sklearn_lstm_reshape, class_name)(model, **params).fit(X[:FIT_ROWS])
    reshaper.transform(X[:FIT_ROWS])  # warm-up: compiles every forward pass
    _cache.predictions.clear()  # not the compiled searches: the warm-up paid for those
    extra, exact, seconds, X_new = peak_extra(lambda: reshaper.transform(X))
    assert X_new.shape == X.shape
    print(json.dumps({"x_bytes": X.nbytes, "extra": extra, "exact": exact, "seconds": seconds}))


def measure(name, rows):
    result = subprocess.run(
        [sys.executable, os.path.abspath(__file__), "--child", name, str(rows)],
        capture_output=True,
        text=True,
        check=False,
    )
    if result.returncode != 0:
        sys.stderr.write(result.stdout + result.stderr)
        raise RuntimeError(f"the subprocess measuring {name!r} failed (its output is above)")
    return json.loads(result.stdout.strip().splitlines()[-1])


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="100,000 rows: a smoke test")
    parser.add_argument("--only", help="run the configurations whose name contains this")
    parser.add_argument("--child", nargs=2, metavar=("NAME", "ROWS"), help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child:
        child(args.child[0], int(args.child[1]))
        return
    rows = 100_000 if args.quick else 1_000_000
    repeats = 1 if args.quick else REPEATS
    from sklearn_lstm_reshape import _keras

    _keras.import_keras()  # chooses the backend before versions() imports Keras
    print(versions())
    print(
        f"peak extra RSS of one transform of {rows:,} rows x {N_FEATURES} features float32 "
        f"(window {WINDOW}), each measured {repeats} time(s) in a fresh subprocess: "
        f"median [min, max]"
    )
    summary = []
    for name in CONFIGURATIONS:
        if args.only and args.only not in name:
            continue
        runs = [measure(name, rows) for _ in range(repeats)]
        ratios = [run["extra"] / run["x_bytes"] for run in runs]
        ratio = statistics.median(ratios)
        method = "VmHWM" if all(run["exact"] for run in runs) else "sampled RSS"
        seconds = statistics.median(run["seconds"] for run in runs)
        print(
            f"  {name:<64} {ratio:5.2f} x X  [{min(ratios):.2f}, {max(ratios):.2f}]  "
            f"({ratio * runs[0]['x_bytes'] / 2**20:5.1f} MiB by {method}, "
            f"transform {seconds:.1f} s)"
        )
        summary.append((f"transform peak extra / X (median): {name}", ratio, "<=", GOAL, ".2f"))
    print_summary(summary)


if __name__ == "__main__":
    main()
