"""Counterfactuals of an LSTM classifier and of an LSTM forecaster, against named peers.

Part 1 measures counterfactual explanations of a plain Keras LSTM classifier
on three UCR/UEA data sets that aeon ships inside its wheel (ItalyPowerDemand
and GunPoint, univariate; BasicMotions, 6 channels; read from the bundled
files, nothing is downloaded). One LSTM(64) classifier is trained here per
data set; the first 50 test instances (all 40 of BasicMotions; 10 with
``--quick``) are each explained toward their counterfactual class, the most
probable class other than the predicted one. Side by side, in this process,
on the same instances:

- ``CounterfactualReshaper(model)`` at its defaults (input space), and
  ``CounterfactualReshaper(model, space="latent")``, both fitted on the
  training panel (only ``transform`` is timed; fit times are a footnote);
- the nearest unlike neighbour (NUN): the nearest training series
  (Euclidean, over every timestep and channel) that the LSTM predicts to be
  in the target class; valid by construction;
- Native Guide (Delaney, Greene and Keane, "Instance-based counterfactual
  explanations for time series classification", ICCBR 2021), re-implemented
  here from the paper: the NUN, a saliency over its timesteps, and the
  contiguous stretch of the NUN with the largest summed saliency copied into
  the instance, its length grown one timestep at a time from 1 until the LSTM
  predicts the target class (``native_guide`` says where it departs from
  the paper: an LSTM has no class activation map, so the saliency is an
  input gradient).

Figures, all from ``sklearn_lstm_reshape.metrics``: validity (fraction whose
predicted class is the target), L2 (mean Euclidean distance to the
instance), changed (mean fraction of timesteps with any value moved by more
than 1e-6), LOF (the Glacier protocol: the fraction of counterfactuals that a
local outlier factor in novelty mode, fitted on the training series the LSTM
puts in the target class, calls outliers), and seconds per instance (wall
time of one call on all instances, divided by their number; any JIT
compilation a first call pays is included, for every method alike).

Part 2 asks a forecaster of the bundled Seattle weather series
(``train_forecaster``, trained on its first 1100 days) about the next 300
days (80 with ``--quick``), searched as one 2-D series: first for each of
its four forecasts in turn one standard deviation higher on every day, the
other three held (``target=lambda p: p + shift``), then for all four at once
(the default target). Validity is measured by running the forecaster again
on the sliding windows of the returned series: the fraction of windows whose
every output is within 0.1 standard deviation of the request. "out of
range" is the fraction of the returned values outside the range of that
feature in the training days (negative rain, say).

Beside the search at its defaults, the same search with ``bounds=None``,
and a reference of what the forecaster allows rather than a peer: the
series built one row at a time, in time order, each row moved (by
Gauss-Newton steps on finite differences, all features at once) until the
one window it ends meets its request, every earlier row fixed. Built twice:
with every value kept within the training range, and unbounded. Where the
bounded construction reaches few windows and the unbounded one nearly all, the
request is met only by series no weather station records. "asks beyond"
is the fraction of the requested windows that ask a forecast above (or
below) every forecast the model made on the training days.

Run from the repository root, with the ``bench`` extra installed (aeon)::

    python benchmarks/bench_counterfactual.py            # full sizes, 1-2 minutes on 2 cores
    python benchmarks/bench_counterfactual.py --quick    # 10 instances, fewer epochs, ~1 minute
    python benchmarks/bench_counterfactual.py --datasets GunPoint --no-series  # a subset

``CounterfactualReshaper`` is imported when the script starts; while it
cannot be, its rows and part 2 are skipped with a note and the peers still run.
"""

import argparse
import os
import time

os.environ.setdefault("KERAS_BACKEND", "jax")

import numpy as np
from _common import timed, versions
from numpy.lib.stride_tricks import sliding_window_view

SEED = 0
# A timestep counts as changed when a value moved by more than this (the
# data are in standard deviations, so this is far below any real edit and
# above float32 round-off of an unchanged value).
ATOL = 1e-6
# data set: (aeon loader, training epochs at full size, at --quick)
DATASETS = {
    "ItalyPowerDemand": ("load_italy_power_demand", 100, 30),
    "GunPoint": ("load_gunpoint", 300, 100),
    "BasicMotions": ("load_basic_motions", 200, 60),
}
INSTANCES, QUICK_INSTANCES = 50, 10
LEARNING_RATE, CLIPNORM, BATCH_SIZE = 1e-3, 1.0, 16
PREDICT_BATCH_SIZE = 1024
# Part 2: the weather forecaster and the held-out stretch it is asked about.
SERIES_WINDOW, SERIES_SPLIT = 14, 1100
SERIES_EPOCHS, QUICK_SERIES_EPOCHS = 20, 5
SERIES_ROWS, QUICK_SERIES_ROWS = 300, 80
SERIES_TOL = 0.1

GLACIER = (
    "Glacier's published means over 40 UCR sets, for context: input space "
    "validity 0.964, L2 0.240, LOF 0.369; LSTM-AE latent validity 0.630, L2 2.109, LOF 0.636."
)
GOALS = (
    "goals at the defaults: validity >= 0.98, L2 <= Native Guide's, "
    "changed <= Native Guide's, LOF <= Native Guide's on every dataset"
)
DEFAULTS = "CounterfactualReshaper()"
LATENT = "CounterfactualReshaper(space='latent')"
NUN = "nearest unlike neighbour"
NATIVE_GUIDE = "Native Guide"


def counterfactual_reshaper():
    """The estimator's class, or None (with a note) while it cannot be imported."""
    try:
        from sklearn_lstm_reshape import CounterfactualReshaper
    except ImportError as error:
        print(f"note: CounterfactualReshaper cannot be imported ({error}); its rows are skipped.")
        return None
    return CounterfactualReshaper


# -- data and the classifier -----------------------------------------------------


def load(name):
    """Train and test panels (n_cases, timesteps, n_features) float32, labels 0..k-1."""
    import aeon.datasets

    loader = getattr(aeon.datasets, DATASETS[name][0])  # reads the files in aeon's wheel
    X_train, y_train = loader(split="train")
    X_test, y_test = loader(split="test")
    # aeon gives (n_cases, n_channels, n_timepoints); Keras wants channels last.
    X_train = np.ascontiguousarray(X_train.transpose(0, 2, 1), dtype=np.float32)
    X_test = np.ascontiguousarray(X_test.transpose(0, 2, 1), dtype=np.float32)
    if name == "BasicMotions":
        # The UCR univariate sets are z-normalised per series already; the
        # BasicMotions accelerometer and gyroscope channels are raw, so each
        # channel is scaled by the training set's mean and standard deviation,
        # as a user would before training an LSTM.
        mean, std = X_train.mean(axis=(0, 1)), X_train.std(axis=(0, 1))
        X_train, X_test = (X_train - mean) / std, (X_test - mean) / std
    labels = np.unique(y_train)
    return X_train, np.searchsorted(labels, y_train), X_test, np.searchsorted(labels, y_test)


def train_classifier(X, y, epochs):
    """A plain Keras LSTM(64) classifier, as a user would train one."""
    from sklearn_lstm_reshape._keras import import_keras

    keras = import_keras()
    keras.utils.set_random_seed(SEED)
    n_classes = int(y.max()) + 1
    model = keras.Sequential(
        [
            keras.Input(X.shape[1:]),
            keras.layers.LSTM(64),
            keras.layers.Dense(n_classes, activation="softmax"),
        ]
    )
    # Adam at its default rate with the gradient norm clipped at 1: without
    # clipping, at 1e-3 or 3e-3, the LSTM on GunPoint (150 timesteps) sat at
    # chance for 100 epochs or more, and fell back to chance after learning.
    # The weights of the epoch with the lowest training loss are kept (the
    # patience of every epoch never stops training early; the test set is
    # not looked at).
    model.compile(
        keras.optimizers.Adam(LEARNING_RATE, clipnorm=CLIPNORM), "sparse_categorical_crossentropy"
    )
    keep_best = keras.callbacks.EarlyStopping(
        monitor="loss", patience=epochs, restore_best_weights=True
    )
    model.fit(X, y, epochs=epochs, batch_size=BATCH_SIZE, verbose=0, callbacks=[keep_best])
    return model


def predict(model, X):
    return model.predict(X, batch_size=PREDICT_BATCH_SIZE, verbose=0)


# -- the peers -------------------------------------------------------------------


def nearest_unlike_neighbours(X, targets, X_train, train_classes):
    """Per instance, the nearest training series (Euclidean) the model puts in its target.

    Returns the neighbours and whether one exists; an instance whose target
    class the model gives to no training series keeps itself (and is invalid).
    """
    flat_train = X_train.reshape(len(X_train), -1).astype(np.float64)
    flat = X.reshape(len(X), -1).astype(np.float64)
    distances = (
        np.sum(flat**2, axis=1)[:, None]
        - 2 * flat @ flat_train.T
        + np.sum(flat_train**2, axis=1)[None, :]
    )
    distances[train_classes[None, :] != targets[:, None]] = np.inf
    nearest = np.argmin(distances, axis=1)
    found = np.isfinite(distances[np.arange(len(X)), nearest])
    return np.where(found[:, None, None], X_train[nearest], X), found


def target_saliency(model, X, targets):
    """|d p(target | x) / d x|, summed over channels: one weight per timestep.

    Computed with ``jax.grad`` through the Keras model (JAX backend). The
    instances are independent, so the gradient of the summed target
    probabilities gives each instance its own gradient.
    """
    import jax
    import jax.numpy as jnp

    one_hot = np.eye(model.output_shape[-1], dtype=np.float32)[targets]

    def target_probability(x):
        return jnp.sum(model(x, training=False) * one_hot)

    gradient = jax.grad(target_probability)(jnp.asarray(X, dtype=jnp.float32))
    return np.abs(np.asarray(gradient)).sum(axis=2)


def most_salient_starts(saliency):
    """(n, T) saliency -> (n, T) start of the window of each length 1..T with the
    largest summed saliency (the earliest on ties)."""
    n, steps = saliency.shape
    cumulative = np.concatenate([np.zeros((n, 1)), np.cumsum(saliency, axis=1)], axis=1)
    starts = np.empty((n, steps), dtype=int)
    for length in range(1, steps + 1):
        window_sums = cumulative[:, length:] - cumulative[:, :-length]  # (n, T - length + 1)
        starts[:, length - 1] = np.argmax(window_sums, axis=1)
    return starts


def native_guide(model, X, targets, neighbours, chunk=32):
    """Native Guide's segment swap (Delaney et al., ICCBR 2021), re-implemented.

    For each instance: the saliency of its NUN's timesteps for the target
    class; for L = 1, 2, ..., T the contiguous L timesteps of largest summed
    saliency, copied from the NUN into the instance; the first L for which
    the model predicts the target class is the counterfactual. L = T is the
    NUN itself, so the result is valid whenever the NUN is.

    Where this differs from the paper, and why:

    - NUN: the paper retrieves it with DTW (the authors' notebooks call a
      Euclidean k-NN); here it is Euclidean, and it is the nearest training
      series the model *predicts* in the target class, where the paper takes
      the nearest whose true label differs from the query's predicted class.
      With an accurate binary classifier the two nearly always coincide.
    - Saliency: the paper uses the class activation map of an FCN, which an
      LSTM does not have; here it is the absolute gradient of the target
      class's probability with respect to the NUN, summed over channels and
      not smoothed (the sum over L timesteps already smooths it).
    - Stop: the paper grows L until the probability of the original class
      drops to 0.5 or below (the same thing for two classes); here until the
      target class is the most probable, the validity that is measured.
    - Speed: the paper predicts one L at a time; here every L of a chunk of
      instances is evaluated in one predict call and the smallest L that
      flips is kept, which gives the same result.
    """
    n, steps, _ = X.shape
    starts = most_salient_starts(target_saliency(model, neighbours, targets))
    lengths = np.arange(1, steps + 1)
    positions = np.arange(steps)
    found = np.array(neighbours, copy=True)
    for begin in range(0, n, chunk):
        rows = slice(begin, begin + chunk)
        start = starts[rows][:, :, None]  # (m, L, 1)
        # swapped[i, L - 1, t]: whether timestep t comes from the NUN at length L
        swapped = (positions >= start) & (positions < start + lengths[None, :, None])
        candidates = np.where(swapped[..., None], neighbours[rows, None], X[rows, None])
        m = len(candidates)
        classes = np.argmax(predict(model, candidates.reshape(m * steps, *X.shape[1:])), axis=1)
        flips = classes.reshape(m, steps) == targets[rows, None]
        for i in np.flatnonzero(flips.any(axis=1)):
            found[begin + i] = candidates[i, np.argmax(flips[i])]
    return found


# -- part 1 ------------------------------------------------------------------------


def lof_rate(X_cf, X_train, targets, train_classes):
    """The Glacier protocol's LOF outlier rate; NaN when a target class has
    fewer than two training series the model puts in it."""
    from sklearn_lstm_reshape.metrics import lof_outlier_rate

    try:
        return lof_outlier_rate(X_cf, X_train, target=targets, reference_classes=train_classes)
    except ValueError:
        return np.nan


def figures(model, X, X_cf, targets, X_train, train_classes, seconds):
    """validity, L2, changed, LOF, seconds per instance."""
    from sklearn_lstm_reshape.metrics import changed_timesteps, proximity, reached_target

    return (
        float(reached_target(predict(model, X_cf), targets).mean()),
        proximity(X, X_cf, norm=2),
        changed_timesteps(X, X_cf, atol=ATOL),
        lof_rate(X_cf, X_train, targets, train_classes),
        seconds / len(X),
    )


def explain_dataset(name, quick, Reshaper):
    """Train the LSTM and run every method on the instances.

    Returns the rows of the table, the fit seconds of the estimators, and
    the LOF outlier rate of the real instances against the training series
    of their own predicted class (what the figure gives on real data).
    """
    from sklearn_lstm_reshape.metrics import predicted_class

    X_train, y_train, X_test, y_test = load(name)
    epochs = DATASETS[name][2 if quick else 1]
    seconds, model = timed(lambda: train_classifier(X_train, y_train, epochs))
    train_classes = predicted_class(predict(model, X_train))
    test_accuracy = np.mean(predicted_class(predict(model, X_test)) == y_test)
    X = X_test[: QUICK_INSTANCES if quick else INSTANCES]
    probabilities = predict(model, X)
    predicted = np.argmax(probabilities, axis=1)
    # The counterfactual class: the most probable class other than the predicted one.
    runner_up = probabilities.copy()
    runner_up[np.arange(len(X)), predicted] = -np.inf
    targets = np.argmax(runner_up, axis=1)
    real_lof = lof_rate(X, X_train, predicted, train_classes)
    print(
        f"{name}: {len(X_train)} training series of {X_train.shape[1]} timesteps x "
        f"{X_train.shape[2]} channels, {int(y_train.max()) + 1} classes; LSTM trained "
        f"{epochs} epochs in {seconds:.0f} s, accuracy train "
        f"{np.mean(train_classes == y_train):.2f}, test {test_accuracy:.2f}; "
        f"{len(X)} instances",
        flush=True,
    )

    results = {}  # method -> (counterfactuals, seconds)
    began = time.perf_counter()
    neighbours, has_neighbour = nearest_unlike_neighbours(X, targets, X_train, train_classes)
    nun_seconds = time.perf_counter() - began
    results[NUN] = (neighbours, nun_seconds)
    if not has_neighbour.all():
        print(f"  {np.sum(~has_neighbour)} instance(s): no training series in the target class")
    seconds, guided = timed(lambda: native_guide(model, X, targets, neighbours))
    results[NATIVE_GUIDE] = (guided, nun_seconds + seconds)  # Native Guide starts with the NUN

    fit_seconds = {}
    if Reshaper is not None:
        for label, params in ((DEFAULTS, {}), (LATENT, {"space": "latent"})):
            fit_seconds[label], reshaper = timed(
                lambda params=params: Reshaper(model, random_state=SEED, **params).fit(X_train)
            )
            seconds, found = timed(lambda reshaper=reshaper: reshaper.transform(X))
            results[label] = (found, seconds)

    rows = [
        (name, label, *figures(model, X, found, targets, X_train, train_classes, seconds))
        for label, (found, seconds) in results.items()
    ]
    return rows, fit_seconds, real_lof


def print_table(rows):
    header = (
        f"{'dataset':<17} {'method':<39} {'validity':>8} {'L2':>7} {'changed':>7} "
        f"{'LOF':>5} {'s/inst':>7}"
    )
    print("\n" + header)
    print("-" * len(header))
    previous = None
    for name, label, valid, l2, changed, lof, seconds in rows:
        if previous is not None and name != previous:
            print()
        previous = name
        print(
            f"{name:<17} {label:<39} {valid:8.2f} {l2:7.3f} {changed:7.3f} "
            f"{lof:5.2f} {seconds:7.3f}"
        )


def print_goals(rows):
    """Per data set, whether CounterfactualReshaper() met each goal, from the table."""
    table = {(name, label): values for name, label, *values in rows}
    for name in dict.fromkeys(name for name, *_ in rows):
        if (name, DEFAULTS) not in table:
            continue
        valid, l2, changed, lof, _ = table[name, DEFAULTS]
        _, guide_l2, guide_changed, guide_lof, _ = table[name, NATIVE_GUIDE]
        met = {
            "validity >= 0.98": valid >= 0.98,
            "L2": l2 <= guide_l2,
            "changed": changed <= guide_changed,
            "LOF": lof <= guide_lof,  # False when either is NaN
        }
        verdicts = ", ".join(f"{goal} {'yes' if ok else 'no'}" for goal, ok in met.items())
        print(f"  {name}: {verdicts}")


def part_classifiers(quick, names, Reshaper):
    rows, fit_seconds, real_lof = [], {}, {}
    for name in names:
        dataset_rows, dataset_fits, real_lof[name] = explain_dataset(name, quick, Reshaper)
        rows += dataset_rows
        for label, seconds in dataset_fits.items():
            fit_seconds.setdefault(label, []).append(f"{name} {seconds:.1f}")
    print_table(rows)
    if fit_seconds:
        print(
            "fit seconds (not in s/inst): "
            + "; ".join(f"{label}: {', '.join(times)}" for label, times in fit_seconds.items())
        )
    print(
        "LOF of the real instances themselves, against their own predicted class: "
        + ", ".join(f"{name} {rate:.2f}" for name, rate in real_lof.items())
    )
    print(GLACIER)
    print(GOALS)
    print_goals(rows)


# -- part 2: a 2-D series ------------------------------------------------------------


def series_windows(X, window):
    """Every window of a 2-D series, (n_windows, window, n_features), float32."""
    view = sliding_window_view(X, window, axis=0).transpose(0, 2, 1)
    return np.ascontiguousarray(view, dtype=np.float32)


def part_series(quick, Reshaper):
    from sklearn_lstm_reshape.datasets import load_seattle_weather
    from sklearn_lstm_reshape.metrics import proximity, reached_target
    from sklearn_lstm_reshape.models import train_forecaster

    if Reshaper is None:
        print("\nSeries: skipped (CounterfactualReshaper cannot be imported).")
        return
    weather = load_seattle_weather()
    data = weather.data.astype(np.float32)
    epochs = QUICK_SERIES_EPOCHS if quick else SERIES_EPOCHS
    n_rows = QUICK_SERIES_ROWS if quick else SERIES_ROWS
    X_train = data[:SERIES_SPLIT]
    X_held_out = data[SERIES_SPLIT : SERIES_SPLIT + n_rows]
    forecaster = train_forecaster(X_train, window=SERIES_WINDOW, epochs=epochs, random_state=SEED)
    # One standard deviation of the forecaster's predictions on its training windows.
    train_forecasts = predict(forecaster, series_windows(X_train, SERIES_WINDOW))
    std = train_forecasts.std(axis=0)
    before = predict(forecaster, series_windows(X_held_out, SERIES_WINDOW))
    feature_std = X_train.std(axis=0)
    print(
        f"\nSeries: Seattle weather ({', '.join(weather.feature_names)}), forecaster window "
        f"{SERIES_WINDOW} trained {epochs} epochs on the first {SERIES_SPLIT} days; "
        f"{n_rows} held-out days searched as one series with CounterfactualReshaper at its "
        f"defaults, every one of its {len(before)} windows asked for a forecast 1 sd higher. "
        f"Validity is measured on the returned series: the fraction of windows whose every "
        f"output is within {SERIES_TOL} sd of the request (outputs not asked for: of where "
        f"they were).\n"
    )
    requests = {
        f"{name} + 1 sd": np.eye(len(std))[i] for i, name in enumerate(weather.feature_names)
    }
    requests["every forecast + 1 sd"] = np.ones(len(std))
    low, high = X_train.min(axis=0), X_train.max(axis=0)
    print(
        f"{'request':<26}{'asks beyond':>12}  {'series from':<37}{'validity':>9}"
        f"{'L2/row (sd)':>13}{'rows changed':>14}{'out of range':>14}{'s/window':>10}"
    )
    print("-" * 137)
    validities = {}
    for label, raised in requests.items():
        shift = (raised * std).astype(np.float32)
        targets = before + shift
        asked = raised > 0
        beyond = (targets[:, asked] > train_forecasts[:, asked].max(axis=0)) | (
            targets[:, asked] < train_forecasts[:, asked].min(axis=0)
        )
        series = {}
        for name, bounds in (("()", "training"), ("(bounds=None)", None)):
            reshaper = Reshaper(forecaster, target=lambda p, s=shift: p + s, bounds=bounds)
            reshaper.fit(X_train)
            series[f"CounterfactualReshaper{name}"] = timed(
                lambda r=reshaper: r.transform(X_held_out)
            )
        for name, bounds in (("within the range", (low, high)), ("unbounded", None)):
            series[f"row by row, {name}"] = timed(
                lambda bounds=bounds, targets=targets: sequential_construction(
                    forecaster, X_held_out, targets, std, bounds
                )
            )
        for source, (seconds, X_new) in series.items():
            after = predict(forecaster, series_windows(X_new, SERIES_WINDOW))
            reached = reached_target(after, targets, tol=SERIES_TOL, scale=std).mean()
            if source == "CounterfactualReshaper()":
                validities[label] = reached
            changed = np.mean(np.any(np.abs(X_new - X_held_out) > ATOL, axis=1))
            distance = proximity(X_held_out / feature_std, X_new / feature_std)
            outside = np.mean((X_new < low) | (X_new > high))
            print(
                f"{label:<26}{beyond.any(axis=1).mean():>12.3f}  {source:<37}{reached:>9.3f}"
                f"{distance:>13.3f}{changed:>14.2f}{outside:>14.3f}{seconds / len(before):>10.3f}"
            )
    print(
        "goal: reached on >= 90 % of requested rows after folding: "
        + ", ".join(f"{label} {'yes' if v >= 0.9 else 'no'}" for label, v in validities.items())
    )


def sequential_construction(forecaster, X, targets, scale, bounds=None, steps=8):
    """X rebuilt one row at a time, in time order: row t (every feature) moved
    by Gauss-Newton steps until the window ending at t forecasts ``targets``
    (within ``0.8 * SERIES_TOL`` of ``scale``), the rows before it fixed.
    ``bounds``: (low, high) per feature, kept to; None leaves values free."""
    series = X.copy()
    n_features = X.shape[1]
    step_size = 0.05 * X.std(axis=0)  # of the finite differences
    probes = np.vstack([np.zeros(n_features), np.diag(step_size)]).astype(np.float32)
    for end in range(SERIES_WINDOW - 1, len(series)):
        window = series[end - SERIES_WINDOW + 1 : end + 1]
        wanted = targets[end - SERIES_WINDOW + 1]
        row = window[-1].copy()
        for _ in range(steps):
            candidates = np.repeat(window[None], n_features + 1, axis=0)
            candidates[:, -1] = row + probes
            out = predict(forecaster, candidates)
            miss = (out[0] - wanted) / scale
            if np.all(np.abs(miss) <= 0.8 * SERIES_TOL):
                break
            jacobian = ((out[1:] - out[0]) / scale).T / step_size
            row = row + np.linalg.lstsq(jacobian, -miss, rcond=None)[0]
            if bounds is not None:
                row = np.clip(row, *bounds)
            row = row.astype(np.float32)
        series[end] = row
    return series


# -- main ------------------------------------------------------------------------------


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="10 instances, fewer epochs")
    parser.add_argument(
        "--datasets",
        default=",".join(DATASETS),
        help="comma-separated subset of " + ", ".join(DATASETS) + " ('' skips part 1)",
    )
    parser.add_argument("--no-series", action="store_true", help="skip part 2")
    args = parser.parse_args()
    names = [name for name in args.datasets.split(",") if name]
    unknown = set(names) - set(DATASETS)
    if unknown:
        parser.error(f"unknown data set(s) {sorted(unknown)}; choose from {list(DATASETS)}")

    Reshaper = counterfactual_reshaper()
    print(versions())
    print(
        f"settings: {'--quick' if args.quick else 'full'}; "
        f"{QUICK_INSTANCES if args.quick else INSTANCES} instances per data set (at most its "
        f"test cases); LSTM(64) + softmax, Adam {LEARNING_RATE} clipnorm {CLIPNORM}, batch "
        f"{BATCH_SIZE}, epochs "
        + ", ".join(f"{name} {DATASETS[name][2 if args.quick else 1]}" for name in names)
        + f"; seed {SEED}; changed above {ATOL}\n",
        flush=True,
    )
    began = time.perf_counter()
    if names:
        part_classifiers(args.quick, names, Reshaper)
    if not args.no_series:
        part_series(args.quick, Reshaper)
    print(f"\ntotal {time.perf_counter() - began:.0f} s")


if __name__ == "__main__":
    main()
