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

Run from the repository root::

    python benchmarks/bench_memory.py            # 1,000,000 rows, about 5 minutes
    python benchmarks/bench_memory.py --quick    # 100,000 rows, smoke test
"""

import argparse
import json
import os
import subprocess
import sys

from _common import make_series, peak_extra, print_summary, versions

N_FEATURES = 4
WINDOW = 24
FIT_ROWS = 20_000
GOAL = 4.0

CONFIGURATIONS = {
    "ThresholdReshaper, action='forecast'": (
        "ThresholdReshaper",
        dict(action="forecast"),
    ),
    "GenerativeReshaper, a request, mode='edit'": (
        "GenerativeReshaper",
        dict(condition=0.5, mode="edit", latent_dim=8, units=16, epochs=1, random_state=0),
    ),
    "GenerativeReshaper, regeneration, stochastic=True": (
        "GenerativeReshaper",
        dict(mode="regenerate", stochastic=True, latent_dim=8, units=16, epochs=1, random_state=0),
    ),
    "LatentReshaper, edit='noise'": (
        "LatentReshaper",
        dict(edit="noise", latent_dim=8, units=16, epochs=1, random_state=0),
    ),
    "LatentReshaper, edit='shift', mode='edit'": (
        "LatentReshaper",
        dict(edit="shift", mode="edit", latent_dim=8, units=16, epochs=1, random_state=0),
    ),
    "LatentReshaper, edit='optimize' (5 steps)": (
        "LatentReshaper",
        dict(
            edit="optimize",
            target=0.5,
            steps=5,
            latent_dim=8,
            units=16,
            epochs=1,
            random_state=0,
        ),
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
    from sklearn_lstm_reshape import _keras

    _keras.import_keras()  # chooses the backend before versions() imports Keras
    print(versions())
    print(
        f"peak extra RSS of one transform of {rows:,} rows x {N_FEATURES} features float32 "
        f"(window {WINDOW}), each in a fresh subprocess"
    )
    summary = []
    for name in CONFIGURATIONS:
        if args.only and args.only not in name:
            continue
        figures = measure(name, rows)
        ratio = figures["extra"] / figures["x_bytes"]
        method = "VmHWM" if figures["exact"] else "sampled RSS"
        print(
            f"  {name:<48} {ratio:5.2f} x X  ({figures['extra'] / 2**20:6.1f} MiB by "
            f"{method}, transform {figures['seconds']:.1f} s)"
        )
        summary.append((f"transform peak extra / X: {name}", ratio, "<=", GOAL, ".2f"))
    print_summary(summary)


if __name__ == "__main__":
    main()
