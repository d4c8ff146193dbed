"""Speed and quality of GenerativeReshaper, measured side by side.

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

3. quality (``--quality``, instead of 1 and 2): on the bundled weather (a
   forecaster, every forecast asked one standard deviation higher),
   ItalyPowerDemand (aeon's copy, ``bench`` extra; an LSTM classifier, every
   test day asked for the other class) and TimeGAN's sines, the windows of
   ``sample()`` and ``transform`` of both generators (``"cvae"`` and
   ``"cgan"``, at their defaults) against the input-space search, the
   nearest training window meeting the request, Gaussian jitter and random
   training windows: the condition gap, TimeGAN's GRU (the mean of
   GRU_REPEATS differently seeded runs, as the score of one run varies by
   0.1 and more) and a gradient-boosting discriminative score against the
   real held-out windows (the mean of BOOSTING_REPEATS seeds), and diversity
   (``sklearn_lstm_reshape.metrics``); on sines, TimeGAN's discriminative and
   predictive scores beside the published ones. Each of ``--seeds`` (three
   by default) seeds the forecaster, the generators and the draws, and the
   tables are the means over the seeds: with one seed, the weather's GRU
   score of the same generator was 0.03 to 0.16, depending on the seed.

Run from the repository root::

    python benchmarks/bench_generative.py             # speed, full sizes, a few minutes
    python benchmarks/bench_generative.py --quick     # speed, small sizes, smoke test
    python benchmarks/bench_generative.py --quality   # quality, three seeds, about 25 minutes
    python benchmarks/bench_generative.py --quality --seeds 0   # one seed
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


# -- [3] quality: realism, variety and the condition -----------------------------
#
# Each generator answers the same requests on the same data, and its windows
# are compared with real held-out windows by the figures of
# sklearn_lstm_reshape.metrics (TimeGAN's post-hoc GRU and a gradient-boosting
# classifier for the discriminative score, diversity, and the condition gap in
# standard deviations of the model's predictions on the training windows; for
# a classifier, the share of windows the model does not put in the requested
# class).

QUALITY_GOALS = {"gap": 0.10, "series_gap": 0.25, "miss": 0.05, "gru": 0.10, "diversity": 0.8}
SINES = dict(n_samples=10_000, timesteps=24, n_features=5)
# (discriminative, predictive) on sines, as published (Yoon et al. 2019;
# Yuan and Qiao 2024): not run here.
PUBLISHED_SINES = {"TimeGAN": (0.011, 0.093), "Diffusion-TS": (0.006, 0.093)}
JITTER = 0.1  # Gaussian jitter, in standard deviations of each feature
# The goal: TimeGAN's 0.093 is below what a GRU trained on real sines
# scores (0.0935 here), so the goal is the real data's 0.094.
SINES_PREDICTIVE_GOAL = 0.094
GRU_REPEATS = 3  # GRU discriminative scores averaged, each with its own seed
# Boosting scores averaged likewise: one split of a few hundred windows varies
# by 0.05 and more (random training windows of the weather: 0.19 with one
# seed, 0.11 over five).
BOOSTING_REPEATS = 5
GENERATORS = ("cvae", "cgan")


def sines(n_samples, timesteps, n_features, seed):
    """TimeGAN's sines: per feature a sine of random frequency and phase in
    [0, 0.1), mapped by (x + 1) / 2 (Yoon et al. 2019): values in [0.5, 1],
    which the scores take as given, as TimeGAN's do."""
    rng = np.random.RandomState(seed)
    frequency = rng.uniform(0, 0.1, (n_samples, 1, n_features))
    phase = rng.uniform(0, 0.1, (n_samples, 1, n_features))
    steps = np.arange(timesteps)[None, :, None]
    return ((np.sin(frequency * steps + phase) + 1) / 2).astype(np.float32)


def forward(model, windows):
    from sklearn_lstm_reshape._predict import predict_windows

    windows = np.ascontiguousarray(windows, dtype=np.float32)
    return predict_windows(model, windows, batch_size=4096).reshape(len(windows), -1)


def quality_row(name, real, generated, model, requested, scale, classes, seed):
    """The figures of one generated set against the real windows."""
    from sklearn_lstm_reshape import metrics

    row = {"method": name}
    if requested is not None:
        predictions = forward(model, generated)
        if classes:
            row["miss"] = float(np.mean(metrics.predicted_class(predictions) != requested))
        else:
            row["gap"] = metrics.condition_gap(predictions, requested, scale=scale)[0]
    row["gru"] = float(
        np.mean(
            [
                metrics.discriminative_score(real, generated, random_state=seed + repeat)
                for repeat in range(GRU_REPEATS)
            ]
        )
    )
    row["boosting"] = float(
        np.mean(
            [
                metrics.discriminative_score(
                    real, generated, classifier="boosting", random_state=seed + repeat
                )
                for repeat in range(BOOSTING_REPEATS)
            ]
        )
    )
    row["diversity"] = metrics.diversity(real, generated, random_state=seed)
    return row


def nearest_windows(train, train_predictions, requested, scale):
    """Per request, the training window whose prediction is nearest to it."""
    from sklearn.neighbors import NearestNeighbors

    search = NearestNeighbors(n_neighbors=1).fit(train_predictions / scale)
    return train[search.kneighbors(requested / scale, return_distance=False)[:, 0]]


def quality_forecasts(quick, seed):
    """The bundled weather: a forecaster, every forecast asked +1 sd."""
    from sklearn_lstm_reshape import CounterfactualReshaper, GenerativeReshaper
    from sklearn_lstm_reshape._windows import sliding_windows
    from sklearn_lstm_reshape.datasets import load_seattle_weather
    from sklearn_lstm_reshape.models import train_forecaster

    X = np.asarray(load_seattle_weather().data, dtype=np.float32)
    X_train, X_test = X[:1100], X[1100:]
    window = 24
    model = train_forecaster(X_train, window=window, epochs=5 if quick else 30, random_state=seed)
    train, real = sliding_windows(X_train, window), sliding_windows(X_test, window)
    train_predictions = forward(model, train)
    scale = train_predictions.std(axis=0)
    rng = np.random.RandomState(seed)
    requested = forward(model, real) + scale
    rows = []

    def add(name, generated, wanted):
        rows.append(quality_row(name, real, generated, model, wanted, scale, False, seed))

    for kind in GENERATORS:
        generator = GenerativeReshaper(model, generator=kind, random_state=seed)
        generator.set_params(**quick_epochs(quick)).fit(X_train)
        add(f"{kind} sample(), drawn conditions", *generator.sample(len(real), random_state=seed))
        add(
            f"{kind} sample(), drawn conditions +1 sd",
            *generator.sample(len(real), condition=lambda p: p + scale, random_state=seed),
        )
        edited = generator.set_params(condition=lambda p: p + scale)
        add(
            f"{kind} transform of the series, +1 sd",
            sliding_windows(edited.transform(X_test), window),
            requested,
        )
    search = CounterfactualReshaper(model, target=lambda p: p + scale).fit(train)
    add("input-space search, windows, +1 sd", search.transform(real), requested)
    series_search = CounterfactualReshaper(model, target=lambda p: p + scale).fit(X_train)
    add(
        "input-space search, the series, +1 sd",
        sliding_windows(series_search.transform(X_test), window),
        requested,
    )
    nearest = nearest_windows(train, train_predictions, requested, scale)
    add("nearest training window, +1 sd", nearest, requested)
    add_real_baselines(add, real, train, rng)
    return rows


def quality_classes(quick, seed):
    """ItalyPowerDemand (aeon's copy): an LSTM classifier, each test day asked
    for the other class."""
    from bench_counterfactual import load, nearest_unlike_neighbours, train_classifier

    from sklearn_lstm_reshape import CounterfactualReshaper, GenerativeReshaper, metrics

    X_train, y_train, real, _ = load("ItalyPowerDemand")
    model = train_classifier(X_train, y_train, epochs=20 if quick else 100)
    train_predictions = forward(model, X_train)
    predicted = metrics.predicted_class(forward(model, real))
    requested = 1 - predicted  # two classes: the other one
    rng = np.random.RandomState(seed)
    rows = []

    def add(name, generated, wanted=requested):
        rows.append(quality_row(name, real, generated, model, wanted, None, True, seed))

    for kind in GENERATORS:
        generator = GenerativeReshaper(model, generator=kind, random_state=seed)
        generator.set_params(**quick_epochs(quick)).fit(X_train)
        sampled, _ = generator.sample(len(real), condition=requested, random_state=seed)
        add(f"{kind} sample(), the other class", sampled)
        flipped = generator.set_params(condition=lambda p: 1 - p).transform(real)
        add(f"{kind} transform, flipped probabilities", flipped)
    add(
        "input-space search, the other class",
        CounterfactualReshaper(model).fit(X_train).transform(real),
    )
    train_classes = metrics.predicted_class(train_predictions)
    neighbours, _ = nearest_unlike_neighbours(real, requested, X_train, train_classes)
    add("nearest unlike neighbour", neighbours)
    add_real_baselines(add, real, X_train, rng)
    return rows


def quick_epochs(quick):
    """A smoke test trains for 5 epochs; otherwise each generator's default."""
    return {"epochs": 5} if quick else {}


def add_real_baselines(add, real, train, rng):
    """The rows of real data: Gaussian jitter of the real windows, and random
    training windows (the reference of the boosting score's goal)."""
    std = train.reshape(-1, train.shape[2]).std(axis=0)
    jitter = real + JITTER * std * rng.standard_normal(real.shape)
    add("Gaussian jitter of real windows", jitter, None)
    add("random training windows", train[rng.randint(len(train), size=len(real))], None)


def quality_sines(quick, seed):
    """TimeGAN's sines, generated by sample() (no X), scored as TimeGAN scores them."""
    from sklearn_lstm_reshape import GenerativeReshaper, metrics

    size = dict(SINES, n_samples=1000) if quick else SINES  # as bench_quality prints
    train, real = sines(seed=seed, **size), sines(seed=seed + 1, **size)
    shorter = quick and dict(discriminative=dict(iterations=200), predictive=dict(iterations=500))
    sets = {}
    for kind in GENERATORS:
        generator = GenerativeReshaper(generator=kind, random_state=seed)
        generator.set_params(**quick_epochs(quick)).fit(train)
        sets[f"{kind} sample()"] = generator.sample(len(real), random_state=seed)[0]
    sets["real training sines"] = train
    figures = {}
    for name, windows in sets.items():
        figures[name] = (
            np.mean(
                [
                    metrics.discriminative_score(
                        real,
                        windows,
                        random_state=seed + repeat,
                        **((shorter and shorter["discriminative"]) or {}),
                    )
                    for repeat in range(GRU_REPEATS)
                ]
            ),
            metrics.predictive_score(
                real, windows, random_state=seed, **((shorter and shorter["predictive"]) or {})
            ),
        )
    return figures


def print_quality(title, rows):
    print(f"\n{title}")
    header = (
        f"{'method':42s} {'gap (sd)':>9s} {'miss':>6s} {'GRU':>6s} {'boost':>6s} {'divers.':>7s}"
    )
    print(header)
    print("-" * len(header))
    for row in rows:
        cells = [
            f"{row[key]:{width}.3f}" if key in row else f"{'-':>{width}s}"
            for key, width in (
                ("gap", 9),
                ("miss", 6),
                ("gru", 6),
                ("boosting", 6),
                ("diversity", 7),
            )
        ]
        print(f"{row['method']:42s} " + " ".join(cells))


def bench_quality(quick, seeds=(SEED,)):
    """Print the quality tables, means over ``seeds``; return the summary rows of
    the goals, whose measured figure is the mean and whose name lists each
    seed's."""
    runs = []
    for seed in seeds:
        forecasts, classes = quality_forecasts(quick, seed), quality_classes(quick, seed)
        runs.append((forecasts, classes, quality_sines(quick, seed)))
    over = f", mean over the seeds {list(seeds)}" if len(seeds) > 1 else ""
    print_quality(
        f"Bundled weather, LSTM forecaster; requests: every forecast +1 sd{over}",
        mean_rows([forecasts for forecasts, _, _ in runs]),
    )
    print_quality(
        f"ItalyPowerDemand, LSTM classifier; requests: the other class{over}",
        mean_rows([classes for _, classes, _ in runs]),
    )
    sines_figures = {
        name: tuple(np.mean([figures[name] for _, _, figures in runs], axis=0))
        for name in runs[0][2]
    }
    n_sines = 1000 if quick else SINES["n_samples"]
    print(f"\nTimeGAN's sines ({n_sines:,} x {SINES['timesteps']} x {SINES['n_features']}){over}")
    print(f"{'':42s} {'discriminative':>14s} {'predictive':>10s}")
    for name, (discriminative, predictive) in sines_figures.items():
        print(f"{name:42s} {discriminative:14.3f} {predictive:10.3f}")
    for name, figures in PUBLISHED_SINES.items():
        print(f"{name + ' (published)':42s} {figures[0]:14.3f} {figures[1]:10.3f}")

    per_seed = [
        [
            goal
            for kind in GENERATORS
            for goal in quality_goals(by_name(forecasts), by_name(classes), figures, kind)
        ]
        for forecasts, classes, figures in runs
    ]
    goals = []
    for same_goal in zip(*per_seed, strict=True):
        name, _, op, goal, fmt = same_goal[0]
        values = [value for _, value, *_ in same_goal]
        if len(seeds) > 1:
            name += " (" + ", ".join(format(value, fmt) for value in values) + ")"
        goals.append((name, float(np.mean(values)), op, goal, fmt))
    return goals


def mean_rows(runs):
    """The rows of each method, every figure the mean over the runs."""
    return [
        {
            key: value if key == "method" else float(np.mean([run[i][key] for run in runs]))
            for key, value in row.items()
        }
        for i, row in enumerate(runs[0])
    ]


def by_name(rows):
    return {row["method"]: row for row in rows}


def quality_goals(weather, italy, sines_figures, kind):
    """The goals, measured on generator ``kind`` at its defaults."""
    drawn, asked = (
        weather[f"{kind} sample(), drawn conditions"],
        weather[f"{kind} sample(), drawn conditions +1 sd"],
    )
    series = weather[f"{kind} transform of the series, +1 sd"]
    italy_sample = italy[f"{kind} sample(), the other class"]
    real_weather = weather["random training windows"]
    real_italy = italy["random training windows"]
    ours_sines = sines_figures[f"{kind} sample()"]
    goal = QUALITY_GOALS
    return [
        (f"[3] weather {kind} sample() +1 sd: gap (sd)", asked["gap"], "<=", goal["gap"], ".3f"),
        (f"[3] weather {kind} sample(): GRU", drawn["gru"], "<=", goal["gru"], ".3f"),
        (
            f"[3] weather {kind} sample(): boosting - random training windows'",
            drawn["boosting"] - real_weather["boosting"],
            "<=",
            0.0,
            ".3f",
        ),
        (f"[3] weather {kind} sample(): diversity", drawn["diversity"], ">=", 0.8, ".3f"),
        (
            f"[3] weather {kind} series transform +1 sd: gap (sd)",
            series["gap"],
            "<=",
            goal["series_gap"],
            ".3f",
        ),
        (
            f"[3] Italy {kind} sample(): share not in the class",
            italy_sample["miss"],
            "<=",
            goal["miss"],
            ".3f",
        ),
        (f"[3] Italy {kind} sample(): GRU", italy_sample["gru"], "<=", goal["gru"], ".3f"),
        (
            f"[3] Italy {kind} sample(): boosting - random training windows'",
            italy_sample["boosting"] - real_italy["boosting"],
            "<=",
            0.0,
            ".3f",
        ),
        (
            f"[3] sines {kind} sample(): discriminative",
            ours_sines[0],
            "<=",
            PUBLISHED_SINES["TimeGAN"][0],
            ".3f",
        ),
        (
            f"[3] sines {kind} sample(): predictive",
            ours_sines[1],
            "<=",
            SINES_PREDICTIVE_GOAL,
            ".4f",
        ),
    ]


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
    parser.add_argument(
        "--quality",
        action="store_true",
        help="[3]: realism, variety and the condition against the peers, instead of the speed",
    )
    parser.add_argument(
        "--seeds",
        default="0,1,2",
        help="[3]: seeds of the models and draws, comma-separated; the tables are the means",
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

    if args.quality:
        seeds = [int(seed) for seed in args.seeds.split(",")]
        print_summary(bench_quality(args.quick, seeds))
        if args.quick:
            print("Quick sizes are a smoke test: the goals apply to the full sizes.")
        print(f"Total time: {time.perf_counter() - start:.0f} s")
        return 0

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
