"""Speed of GenerativeReshaper, as ratios measured side by side.

Every figure is a ratio of two things measured in the same run, so that the
result does not depend on how fast (or how busy) the machine is:

1. fit: the time of ``GenerativeReshaper.fit`` against a plain Keras ``fit``
   of the same CVAE networks and loss (closed-loop term included) on the
   same, already materialised, windows, conditions and standardised
   targets; per epoch (one-time costs such as the
   XLA compilation and the prediction pass separated out) and whole fit;
2. transform throughput: ``transform`` of a 2-D series against the bare
   forward passes it consists of (LSTM, encoder, decoder) on materialised
   arrays.

The forecaster is ``make_forecaster(window, 8, units=32)`` with its untrained
(randomly initialised) weights: the cost of a forward pass does not depend on
the values of the weights.

Run from the repository root::

    python benchmarks/bench_generative.py           # full sizes, a few minutes
    python benchmarks/bench_generative.py --quick   # small sizes, smoke test
"""

import argparse
import statistics
import sys
import time

import numpy as np
from _common import (
    N_FEATURES,
    interleaved,
    make_series,
    materialised_windows,
    paired_ratio,
    print_summary,
    versions,
)

WINDOW = 32
UNITS = 32
LATENT_DIM = 8
BATCH_SIZE = 64  # the CVAE's training batch (GenerativeReshaper's default)
LEARNING_RATE = 5e-3  # train_cvae's default
FORWARD_BATCH = 4096  # batch of the bare forward passes (the engine's default)
SEED = 0

SIZES = {
    "full": {
        "fit_rows": 20_000,
        "fit_epochs": 5,
        "fit_repeats": 4,
        "transform_rows": 100_000,
        "transform_repeats": 7,
    },
    "quick": {
        "fit_rows": 2_000,
        "fit_epochs": 3,
        "fit_repeats": 1,
        "transform_rows": 8_000,
        "transform_repeats": 2,
    },
}


# -- helpers -------------------------------------------------------------------


def overlap_add_mean(windows, n_rows):
    """Row t = mean of every window's value for row t (reference fold)."""
    n_windows, window, n_features = windows.shape
    total = np.zeros((n_rows, n_features), dtype=np.float64)
    count = np.zeros((n_rows, 1), dtype=np.float64)
    for offset in range(window):
        total[offset : offset + n_windows] += windows[:, offset, :]
        count[offset : offset + n_windows] += 1
    return total / count


def safe_stats(values):
    """Per-column mean and variance, constant columns kept at variance 1."""
    mean = values.mean(axis=0, dtype=np.float64)
    variance = values.var(axis=0, dtype=np.float64)
    variance[variance < 1e-12] = 1.0
    return mean, variance


# -- 1. fit vs. a plain Keras fit of the same networks ---------------------------


def bench_fit(rows, epochs, repeats):
    import keras

    from sklearn_lstm_reshape import GenerativeReshaper, _keras, clear_cache
    from sklearn_lstm_reshape.models import (
        _cvae_networks,
        _cvae_trainer_class,
        _frozen_copy,
        make_forecaster,
    )

    print(
        f"\n[1] fit: {rows:,} rows x {N_FEATURES} features, window {WINDOW}, "
        f"CVAE latent_dim={LATENT_DIM} units={UNITS} batch_size={BATCH_SIZE}, "
        f"epochs {epochs} and 1, {repeats} repetition(s)"
    )
    X = make_series(rows)
    model = make_forecaster(WINDOW, N_FEATURES, units=UNITS)

    # The plain side's inputs, materialised once and never timed: the windows,
    # the LSTM's predictions as conditions, the standardised targets.
    windows = materialised_windows(X, WINDOW)
    conditions = np.asarray(
        model.predict(windows, batch_size=FORWARD_BATCH, verbose=0), dtype=np.float32
    ).reshape(len(windows), -1)
    window_mean, window_variance = safe_stats(windows.reshape(-1, N_FEATURES))
    condition_mean, condition_variance = safe_stats(conditions)
    targets = (windows - window_mean.astype(np.float32)) / np.sqrt(window_variance).astype(
        np.float32
    )

    def estimator_fit(n_epochs):
        # The prediction cache is cleared so that every fit runs the
        # prediction pass, as a first fit does.
        clear_cache()
        return GenerativeReshaper(
            model,
            window=WINDOW,
            latent_dim=LATENT_DIM,
            units=UNITS,
            epochs=n_epochs,
            batch_size=BATCH_SIZE,
            random_state=SEED,
        ).fit(X)

    def plain_fit(n_epochs):
        with _keras.seeded(_keras.seed_from(SEED)):
            encoder, decoder, decoder_standardised = _cvae_networks(
                (WINDOW, N_FEATURES, conditions.shape[1]),
                LATENT_DIM,
                UNITS,
                (window_mean, window_variance),
                (condition_mean, condition_variance),
            )
            trainer = _cvae_trainer_class()(
                encoder,
                decoder_standardised,
                1.0,
                decoder=decoder,
                predictor=_frozen_copy(model),
                condition_weight=1.0,
                condition_std=np.sqrt(condition_variance),
            )
            trainer.compile(optimizer=keras.optimizers.Adam(LEARNING_RATE))
            trainer.fit(
                [windows, conditions],
                targets,
                batch_size=BATCH_SIZE,
                epochs=n_epochs,
                shuffle=True,
                verbose=0,
            )
        return encoder

    # Warm-up (imports, first-use allocations) and a check that both sides
    # train the same network on the same data: with the same seed, one epoch
    # gives the same encoder up to float rounding.
    reshaper = estimator_fit(1)
    encoder = plain_fit(1)
    sample = [windows[:256], conditions[:256]]
    difference = max(
        float(np.max(np.abs(np.asarray(a) - np.asarray(b))))
        for a, b in zip(
            reshaper.encoder_.predict(sample, verbose=0),
            encoder.predict(sample, verbose=0),
            strict=True,
        )
    )
    print(f"    check: encoder outputs of the two sides after 1 epoch differ by {difference:.1e}")
    assert difference < 1e-2, "the two sides do not train the same network"
    del reshaper, encoder

    functions = [
        lambda: estimator_fit(epochs),
        lambda: plain_fit(epochs),
        lambda: estimator_fit(1),
        lambda: plain_fit(1),
    ]
    est_long, plain_long, est_one, plain_one = interleaved(functions, repeats)
    clear_cache()

    extra = epochs - 1
    est_epoch = [(long - one) / extra for long, one in zip(est_long, est_one, strict=True)]
    plain_epoch = [(long - one) / extra for long, one in zip(plain_long, plain_one, strict=True)]
    epoch_ratio, epoch_low, epoch_high = paired_ratio(est_epoch, plain_epoch)
    whole_ratio, whole_low, whole_high = paired_ratio(est_long, plain_long)
    median = statistics.median
    for name, epoch_times, one_times, long_times in (
        ("GenerativeReshaper.fit", est_epoch, est_one, est_long),
        ("plain keras fit       ", plain_epoch, plain_one, plain_long),
    ):
        print(
            f"    {name}: per epoch {median(epoch_times):.3f} s, one-time "
            f"{median(one_times) - median(epoch_times):.2f} s, whole fit "
            f"({epochs} epochs) {median(long_times):.2f} s"
        )
    print(
        f"    ratio per epoch : {epoch_ratio:.3f} (per-repetition range "
        f"{epoch_low:.3f} .. {epoch_high:.3f})"
    )
    print(
        f"    ratio whole fit : {whole_ratio:.3f} (per-repetition range "
        f"{whole_low:.3f} .. {whole_high:.3f})"
    )
    return epoch_ratio, whole_ratio


# -- 2. transform throughput vs. the bare forward passes --------------------------


def bench_transform(rows, fit_rows, repeats):
    from sklearn_lstm_reshape import GenerativeReshaper, clear_cache
    from sklearn_lstm_reshape.models import make_forecaster

    print(
        f"\n[2] transform throughput: {rows:,} rows x {N_FEATURES} features, "
        f"window {WINDOW}, {repeats} repetitions"
    )
    X = make_series(rows)
    model = make_forecaster(WINDOW, N_FEATURES, units=UNITS)
    reshaper = GenerativeReshaper(
        model,
        window=WINDOW,
        latent_dim=LATENT_DIM,
        units=UNITS,
        epochs=1,
        batch_size=BATCH_SIZE,
        random_state=SEED,
    ).fit(X[:fit_rows])
    encoder, decoder = reshaper.encoder_, reshaper.decoder_
    windows = materialised_windows(X, WINDOW)  # not part of the bare timing
    n_windows = len(windows)

    def bare():
        predictions = model.predict(windows, batch_size=FORWARD_BATCH, verbose=0)
        conditions = np.asarray(predictions).reshape(n_windows, -1)
        mean, _ = encoder.predict([windows, conditions], batch_size=FORWARD_BATCH, verbose=0)
        return decoder.predict([mean, conditions], batch_size=FORWARD_BATCH, verbose=0)

    def transform():
        # Predictions are cached by (model, data, window): without this the
        # LSTM pass would be a cache hit and never run.
        clear_cache()
        return reshaper.transform(X)

    # Warm-up: compiles every batch shape each path uses, and checks that
    # both paths compute the same thing (transform = the bare decoded windows
    # folded back by overlap-add averaging).
    decoded = bare()
    X_new = transform()
    assert X_new.shape == X.shape and X_new.dtype == X.dtype
    np.testing.assert_allclose(X_new, overlap_add_mean(decoded, len(X)), rtol=1e-3, atol=1e-3)
    del decoded, X_new

    bare_times, transform_times = interleaved([bare, transform], repeats)
    clear_cache()

    median = statistics.median
    # transform throughput / bare throughput = bare time / transform time
    ratio, low, high = paired_ratio(bare_times, transform_times)
    print(
        f"    bare LSTM + encoder + decoder predict: "
        f"{n_windows / median(bare_times):10,.0f} windows/s (median {median(bare_times):.3f} s)"
    )
    print(
        f"    transform                            : "
        f"{n_windows / median(transform_times):10,.0f} windows/s "
        f"(median {median(transform_times):.3f} s)"
    )
    print(
        f"    ratio transform/bare throughput: {ratio:.3f} (per-repetition range "
        f"{low:.3f} .. {high:.3f})"
    )
    return n_windows / median(transform_times), ratio


# -- driver --------------------------------------------------------------------


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--quick", action="store_true", help="much smaller sizes: a smoke test of under a minute"
    )
    parser.add_argument(
        "--repeats",
        type=int,
        default=None,
        help="timed repetitions per side (default: 4 for [1] and 7 for [2]; 1 and 2 with --quick)",
    )
    args = parser.parse_args(argv)

    sizes = SIZES["quick" if args.quick else "full"]
    fit_repeats = args.repeats or sizes["fit_repeats"]
    transform_repeats = args.repeats or sizes["transform_repeats"]
    start = time.perf_counter()

    from sklearn_lstm_reshape.models import make_forecaster

    make_forecaster(8, N_FEATURES, units=4)  # imports Keras with the package's backend
    print(f"GenerativeReshaper benchmarks ({'quick' if args.quick else 'full'} sizes)")
    print(versions())
    print(f"Forecaster: make_forecaster({WINDOW}, {N_FEATURES}, units={UNITS}), untrained weights.")

    epoch_ratio, whole_ratio = bench_fit(sizes["fit_rows"], sizes["fit_epochs"], fit_repeats)
    rate, transform_ratio = bench_transform(
        sizes["transform_rows"], sizes["fit_rows"], transform_repeats
    )

    print_summary(
        [
            ("[1] fit / plain keras fit, per epoch", epoch_ratio, "<=", 1.10, ".3f"),
            ("[1] fit / plain keras fit, whole fit", whole_ratio, None, None, ".3f"),
            ("[2] transform throughput (windows/s)", rate, None, None, ",.0f"),
            ("[2] transform / bare forward passes throughput", transform_ratio, None, None, ".3f"),
        ]
    )
    if args.quick:
        print("Quick sizes are a smoke test: the goal applies to the full sizes.")
    print(f"Total time: {time.perf_counter() - start:.0f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
