"""The demo: the three strategies at work on the bundled Seattle weather series.

LSTM forecasters of the next day's weather are trained and used by each
strategy in turn:

1. Threshold: faults are injected into the series (so the truth is known),
   and a ThresholdReshaper that repairs the values the LSTM flags is tuned
   inside a Pipeline with GridSearchCV over a TimeSeriesSplit. The downstream
   task is the regression of the next day's maximum temperature on today's
   readings. Each training fold trains its own LSTM, so no test block is
   scored by a model that has seen it. The grid's picks and the reshaper at
   its defaults are then measured against the true readings: the downstream
   score rewards interpolation's peek at tomorrow, and the defaults repair
   best; the figure shows their repair.
2. Generative: a GenerativeReshaper learns the weather conditioned on the
   LSTM's forecasts and edits held-out days as if the LSTM forecast 3 °C
   warmer; the LSTM is run again on the result to see how far its forecasts
   moved towards the request.
3. Counterfactual: a CounterfactualReshaper searches, for every held-out
   two-week window, the nearest window that would make the LSTM forecast
   3 °C warmer, in input space and in an LSTM autoencoder's latent space,
   and searches the held-out days as one series for every forecast 3 °C
   warmer.

Everything measured ends in one table, and everything shown in one figure.
"""

import time
from pathlib import Path

import numpy as np
from sklearn.base import clone

from .datasets import inject_anomalies, load_seattle_weather

WINDOW = 14  # two weeks of daily readings
# The generative and counterfactual parts learn on these days, and are asked on the rest.
TRAIN_DAYS = 1100
FIGURE = "sklearn_lstm_reshape_demo.png"


def run_demo(output_dir="sklearn_lstm_reshape_demo", *, quick=False, n_jobs=2):
    """Run the demo, print its results table and save its figure.

    Parameters
    ----------
    output_dir : str or Path, default="sklearn_lstm_reshape_demo"
        Where the figure is written (created if needed).
    quick : bool, default=False
        Train for fewer epochs and search a smaller grid (a smoke test).
    n_jobs : int, default=2
        Parallel jobs of the grid search.

    Returns
    -------
    results : dict
        ``rows``: the rows of the results table; ``threshold``,
        ``generative`` and ``counterfactual``: the figures of each part;
        ``figure``: the path of the figure.
    """
    from .models import train_forecaster

    started = time.perf_counter()
    weather = load_seattle_weather()
    names = list(weather.feature_names)
    # The request of the generative and counterfactual parts: a forecast 3 °C warmer.
    warmer = np.zeros(len(names), dtype=np.float32)
    warmer[[names.index("temp_max"), names.index("temp_min")]] = 3.0
    faults = inject_anomalies(
        weather.data, anomaly_fraction=0.03, kinds=("spike", "level_shift"), random_state=0
    )
    print(
        f"Seattle daily weather, {len(weather.data)} days x {len(names)} features "
        f"({', '.join(names)}); {faults.labels.sum()} days with injected sensor faults "
        f"in {len(faults.events)} events."
    )
    epochs = 3 if quick else 30
    threshold = _threshold_part(weather, faults, epochs=epochs, quick=quick, n_jobs=n_jobs)
    print(
        f"\nTraining the LSTM forecaster the generative and counterfactual parts explain, on the "
        f"first {TRAIN_DAYS} days (window={WINDOW} days, {epochs} epochs)...",
        flush=True,
    )
    lstm = train_forecaster(
        weather.data[:TRAIN_DAYS], window=WINDOW, units=32, epochs=epochs, random_state=0, verbose=1
    )
    generative = _generative_part(weather, lstm, warmer, epochs=epochs)
    counterfactual = _counterfactual_part(weather, lstm, warmer, epochs=epochs)
    rows = threshold["rows"] + generative["rows"] + counterfactual["rows"]
    _print_table(rows)

    figure = Path(output_dir) / FIGURE
    plots = [part.pop("plot") for part in (threshold, generative, counterfactual)]
    _plot(weather, faults, *plots, warmer, figure)
    print(f"\nFigure: {figure}\nDone in {time.perf_counter() - started:.0f} s.")
    return {
        "rows": rows,
        "threshold": threshold,
        "generative": generative,
        "counterfactual": counterfactual,
        "figure": str(figure),
    }


def _threshold_part(weather, faults, *, epochs, quick, n_jobs):
    """Tune the repair of the injected faults by the downstream regression."""
    from sklearn.linear_model import Ridge
    from sklearn.model_selection import GridSearchCV, TimeSeriesSplit, cross_val_score
    from sklearn.pipeline import make_pipeline

    from . import ThresholdReshaper

    # Today's (faulty) readings predict tomorrow's true maximum temperature.
    X = faults.X[:-1]
    y = weather.data[1:, list(weather.feature_names).index("temp_max")]
    # model=None: every training fold trains its own LSTM forecaster, so no
    # test block is scored by a model that has seen it (seeded, so each fold's
    # model is trained once and shared by every candidate).
    reshaper = ThresholdReshaper(window=WINDOW, units=32, epochs=epochs, random_state=0)
    pipe = make_pipeline(reshaper, Ridge())
    # Interpolation reads the next day, whose temp_max is the target: a small
    # peek, which examples/plot_threshold_grid_search.py measures.
    actions = ["forecast", "interpolate"]
    grid = {
        "thresholdreshaper__contamination": [0.01, 0.05] if quick else [0.005, 0.01, 0.02, 0.05],
        "thresholdreshaper__action": actions,
    }
    cv = TimeSeriesSplit(n_splits=4)
    n_candidates = np.prod([len(v) for v in grid.values()])
    print(
        f"\nThresholdReshaper: GridSearchCV of {n_candidates} candidates x {cv.n_splits} "
        f"time-series folds, n_jobs={n_jobs}, an LSTM forecaster trained per fold "
        f"({epochs} epochs), scored by the MAE of tomorrow's temp_max...",
        flush=True,
    )
    scoring = "neg_mean_absolute_error"
    search = GridSearchCV(pipe, grid, cv=cv, n_jobs=n_jobs, scoring=scoring).fit(X, y)
    mae_raw = -cross_val_score(Ridge(), X, y, cv=cv, scoring=scoring).mean()
    mae_clean = -cross_val_score(Ridge(), weather.data[:-1], y, cv=cv, scoring=scoring).mean()

    # The best candidate of each action, and the reshaper at its defaults,
    # refitted on the whole series to count what each flags and to measure its
    # repair against the true readings (the LSTM trained on the series is
    # shared by all of them). The downstream score is a poor judge of a
    # repair: interpolation's peek at tomorrow pays, and the defaults, which
    # repair best, do not score best.
    events = [(start, stop, feature) for start, stop, feature, _ in faults.events if stop <= len(X)]
    truth = weather.data[:-1]
    scale = truth.std(axis=0)
    error_before = float((np.abs(X - truth) / scale).sum())
    results = search.cv_results_
    candidates = {}
    for action in actions:
        of_action = [
            i for i, p in enumerate(results["params"]) if p["thresholdreshaper__action"] == action
        ]
        i = max(of_action, key=lambda i: results["mean_test_score"][i])
        params = {k.split("__")[1]: v for k, v in results["params"][i].items()}
        label = f"{action}, contamination={params['contamination']}"
        candidates[label] = (clone(reshaper).set_params(**params), -results["mean_test_score"][i])
    # In the grid's worker processes, which hold each fold's LSTM already.
    defaults = -cross_val_score(pipe, X, y, cv=cv, n_jobs=n_jobs, scoring=scoring).mean()
    candidates["the defaults"] = (clone(reshaper), defaults)
    rows, outcomes = [], {}
    for label, (candidate, mae) in candidates.items():
        fitted = candidate.fit(X)
        mask = fitted.flag(X)
        repaired = fitted.transform(X)
        caught = sum(mask[start:stop, feature].any() for start, stop, feature in events)
        error_ratio = float((np.abs(repaired - truth) / scale).sum()) / error_before
        outcomes[label] = (fitted, mask, repaired, error_ratio)
        rows.append(
            _row(
                "ThresholdReshaper",
                f"CV MAE of tomorrow's temp_max, °C (fault-free data: {mae_clean:.2f})",
                f"{label}: {mask.any(axis=1).sum()} days flagged, {caught}/{len(events)} "
                f"faults, error vs truth x{error_ratio:.2f}",
                f"{mae_raw:.2f}",
                f"{mae:.2f}",
                float(np.abs(repaired - X).mean()),
            )
        )
    fitted, mask, repaired, error_ratio = outcomes["the defaults"]
    return {
        "best_params": search.best_params_,
        "mae_raw": float(mae_raw),
        "mae_clean": float(mae_clean),
        "mae_best": float(-search.best_score_),
        "mae_defaults": float(defaults),
        "error_ratio_defaults": error_ratio,
        "rows": rows,
        "plot": {"X": X, "repaired": repaired, "mask": mask, "action": fitted.repair_},
    }


def _generative_part(weather, lstm, warmer, *, epochs):
    """Edit and regenerate held-out days under a forecast 3 °C warmer."""
    from . import GenerativeReshaper

    train, test = weather.data[:TRAIN_DAYS], weather.data[TRAIN_DAYS:]
    print(
        f"\nGenerativeReshaper: a conditional VAE of {WINDOW}-day windows conditioned on the "
        f"LSTM's forecasts, trained on {len(train)} days ({epochs} epochs), asked for the "
        f"{len(test)} held-out days as if the LSTM forecast 3 °C warmer...",
        flush=True,
    )
    gen = GenerativeReshaper(
        lstm,
        window=WINDOW,
        latent_dim=8,
        epochs=epochs,
        condition=lambda p: p + warmer,
        random_state=0,
    ).fit(train)
    measure = "mean |LSTM forecast - request for +3 °C| on the held-out days"
    rows, reports, results = [], {}, {}
    for setting, mode in (("edit X (default)", "edit"), ("regenerate X", "regenerate")):
        gen.set_params(mode=mode)
        reports[setting] = report = gen.report(test)
        results[setting] = gen.transform(test)
        rows.append(
            _row(
                "GenerativeReshaper",
                measure,
                setting,
                f"{report['condition_gap_before']:.2f}",
                f"{report['condition_gap_after']:.2f}",
                report["mean_abs_change"],
            )
        )
    return {
        "rows": rows,
        "reports": reports,
        "plot": {"test": test, "edited": results["edit X (default)"], "forecaster": gen.model_},
    }


def _counterfactual_part(weather, lstm, warmer, *, epochs):
    """Counterfactual two-week windows: what would make the LSTM forecast 3 °C warmer?"""
    from . import CounterfactualReshaper
    from ._windows import sliding_windows

    # Panels of windows: each sequence is one input of the LSTM, searched on its own.
    train = np.ascontiguousarray(sliding_windows(weather.data[:TRAIN_DAYS], WINDOW))
    test = np.ascontiguousarray(sliding_windows(weather.data[TRAIN_DAYS:], WINDOW))
    print(
        f"\nCounterfactualReshaper: for each of the {len(test)} held-out {WINDOW}-day "
        f"windows, the nearest days that would make the LSTM forecast 3 °C warmer "
        f"(the other features' forecasts held), searched from the nearest training window "
        f"with that forecast; then the same in an LSTM autoencoder's latent space "
        f"({epochs} epochs), and the held-out days as one series...",
        flush=True,
    )
    request = dict(target=lambda p: p + warmer, random_state=0)
    variants = {
        "windows, input space (default)": (CounterfactualReshaper(lstm, **request), train, test),
        "windows, latent space": (
            CounterfactualReshaper(lstm, space="latent", epochs=epochs, **request),
            train,
            test,
        ),
        "the held-out days as one series": (
            CounterfactualReshaper(lstm, **request),
            weather.data[:TRAIN_DAYS],
            weather.data[TRAIN_DAYS:],
        ),
    }
    rows, reports, results = [], {}, {}
    for setting, (cf, fit_on, asked) in variants.items():
        reports[setting] = report = cf.fit(fit_on).report(asked)
        results[setting] = cf.transform(asked)
        rows.append(
            _row(
                "CounterfactualReshaper",
                "windows whose forecast comes within 0.1 sd of the request",
                setting,
                f"{report['validity_before']:.0%}",
                f"{report['validity']:.0%}",
                float(np.abs(results[setting] - asked).mean()),
            )
        )
    return {
        "rows": rows,
        "reports": reports,
        "plot": {"test": test, "results": results, "forecaster": lstm},
    }


def _row(strategy, measure, setting, before, after, change=None):
    return {
        "strategy": strategy,
        "measure": measure,
        "setting": setting,
        "before": before,
        "after": after,
        "mean_abs_change": "-" if change is None else f"{change:.2f}",
    }


def _print_table(rows):
    """One table: a heading line per strategy and measure, then a line per setting."""
    values = ("before", "after", "mean_abs_change")
    titles = {"before": "before", "after": "after", "mean_abs_change": "mean |change|"}
    widths = {key: max(len(titles[key]), *(len(row[key]) for row in rows)) for key in values}
    setting_width = max(len(row["setting"]) for row in rows) + 2
    width = setting_width + sum(widths.values()) + 2 * len(values)
    print("\nResults (before: on the data as given; after: on the reshaped data)")
    print("=" * width)
    print(" " * setting_width + "".join(f"  {titles[k]:>{widths[k]}}" for k in values))
    heading = None
    for row in rows:
        if (row["strategy"], row["measure"]) != heading:
            heading = (row["strategy"], row["measure"])
            print("-" * width + f"\n{row['strategy']}: {row['measure']}")
        print(
            f"  {row['setting']:<{setting_width - 2}}"
            + "".join(f"  {row[k]:>{widths[k]}}" for k in values)
        )
    print("=" * width)


def _plot(weather, faults, threshold, generative, counterfactual, warmer, path):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    path.parent.mkdir(parents=True, exist_ok=True)
    fig = plt.figure(figsize=(12, 11))
    grid = fig.add_gridspec(3, 2, height_ratios=[1, 1, 1])
    _plot_threshold(fig.add_subplot(grid[0, :]), weather, faults, threshold)
    _plot_generative(
        fig.add_subplot(grid[1, 0]), fig.add_subplot(grid[1, 1]), weather, generative, warmer
    )
    _plot_counterfactual(
        [fig.add_subplot(grid[2, 0]), fig.add_subplot(grid[2, 1])], weather, counterfactual, warmer
    )
    fig.suptitle("LSTM forecasters of Seattle's weather, three ways to reshape the data")
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)


def _plot_threshold(ax, weather, faults, threshold):
    """Eight months around the first level shift, the fault easiest to see."""
    shifts = [
        (start, feature) for start, _, feature, kind in faults.events if kind == "level_shift"
    ]
    centre, feature = (shifts or [faults.events[0][::2]])[0]
    days = slice(max(centre - 120, 0), min(centre + 120, len(threshold["X"])))
    dates = weather.index[days]
    flagged = threshold["mask"][days, feature]
    ax.plot(dates, faults.X_clean[days, feature], color="0.75", lw=2.5, label="true readings")
    ax.plot(dates, faults.X[days, feature], color="tab:red", lw=0.8, label="with injected faults")
    ax.plot(dates, threshold["repaired"][days, feature], color="tab:blue", lw=0.8, label="repaired")
    ax.scatter(dates[flagged], faults.X[days, feature][flagged], s=12, color="tab:red", zorder=3)
    ax.set_ylabel(weather.feature_names[feature])
    ax.set_title(
        f"ThresholdReshaper at its defaults: values flagged by the LSTM's forecast residual "
        f"(dots), repaired by {threshold['action'][feature]} (action='auto')",
        fontsize=10,
    )
    ax.legend(ncol=3, loc="upper left", fontsize=8)


def _plot_generative(days_ax, forecast_ax, weather, generative, warmer):
    from ._predict import predict

    feature = list(weather.feature_names).index("temp_max")
    shown = slice(0, 120)
    dates = weather.index[TRAIN_DAYS:][shown]
    series = {"held-out days": generative["test"], "edited": generative["edited"]}
    for (name, X), colour in zip(series.items(), ["0.35", "tab:red"], strict=True):
        days_ax.plot(dates, X[shown, feature], color=colour, lw=0.9, label=name)
        # The forecast of day t + 1 comes from the window that ends at day t.
        forecast = predict(generative["forecaster"], X, WINDOW)[:, feature]
        forecast = np.concatenate([np.full(WINDOW, np.nan), forecast[:-1]])
        forecast_ax.plot(dates, forecast[shown], color=colour, lw=0.9, label=f"on {name}")
        if name == "held-out days":
            requested = forecast + warmer[feature]
    forecast_ax.plot(
        dates, requested[shown], color="black", ls=":", lw=1.2, label="requested (+3 °C)"
    )
    days_ax.set_ylabel("temp_max (°C)")
    days_ax.set_title(
        "GenerativeReshaper: held-out days edited for a forecast 3 °C warmer", fontsize=10
    )
    forecast_ax.set_ylabel("LSTM forecast of temp_max (°C)")
    forecast_ax.set_title("The LSTM's forecasts, run again on the edited days", fontsize=10)
    for ax in (days_ax, forecast_ax):
        ax.legend(fontsize=8, loc="upper left")
        ax.tick_params(axis="x", labelrotation=30)


def _plot_counterfactual(axes, weather, counterfactual, warmer):
    from ._predict import predict

    feature = list(weather.feature_names).index("temp_max")
    test = counterfactual["test"]
    results = counterfactual["results"]
    styles = {
        "held-out window": ("0.3", test),
        "latent space": ("tab:blue", results["windows, latent space"]),
        "input space (default)": ("tab:red", results["windows, input space (default)"]),
    }
    days = np.arange(WINDOW + 1)
    shown = [len(test) // 3, 2 * len(test) // 3]
    for ax, index in zip(axes, shown, strict=True):
        for name, (colour, X) in styles.items():
            forecast = predict(counterfactual["forecaster"], X[index : index + 1], None)[0, feature]
            ax.plot(days[:-1], X[index, :, feature], color=colour, label=name)
            ax.plot(days[-1], forecast, "o", color=colour)
            if name == "held-out window":
                ax.plot(
                    days[-1],
                    forecast + warmer[feature],
                    "*",
                    color="black",
                    ms=10,
                    label="requested forecast",
                )
        ax.set_xlabel(f"day (dot at day {WINDOW}: the LSTM's forecast)")
        ax.set_ylabel("temp_max (°C)")
        ax.set_title(
            f"CounterfactualReshaper: counterfactuals of held-out window {index}", fontsize=10
        )
    axes[0].legend(fontsize=8, loc="best")
