"""The demo: the strategies at work on the bundled Seattle weather series.

1. Threshold: faults are injected into the series (so the truth is known), an
   LSTM forecaster is trained on the faulty series, and a ThresholdReshaper
   that repairs flagged values is tuned inside a Pipeline with GridSearchCV
   over a TimeSeriesSplit. The downstream task is the regression of the next
   day's maximum temperature on today's readings.
2. Generative: a GenerativeReshaper learns the weather conditioned on the
   same LSTM's forecasts and edits held-out days for a requested forecast
   ("3 °C warmer"); the LSTM is run again on the result to see how far its
   forecasts moved towards the request.
3. Latent: a LatentReshaper searches, for every held-out two-week window at
   once, the window that would make the LSTM forecast 3 °C warmer, in an
   LSTM autoencoder's latent space and in input space, and compares how often
   each reaches the request and how far it moves from the data.
"""

import time
from pathlib import Path

import numpy as np
from sklearn.base import clone

from .datasets import inject_anomalies, load_seattle_weather

WINDOW = 14  # two weeks of daily readings


def run_demo(output_dir="sklearn_lstm_reshape_demo", *, quick=False, n_jobs=2):
    """Run the demo, print its results and save its figures.

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
        The figures the demo prints, by strategy, and the paths of the figures.
    """
    from sklearn.linear_model import Ridge
    from sklearn.model_selection import GridSearchCV, TimeSeriesSplit, cross_val_score
    from sklearn.pipeline import make_pipeline

    from . import ThresholdReshaper
    from .models import train_forecaster

    started = time.perf_counter()
    weather = load_seattle_weather()
    faults = inject_anomalies(
        weather.data, anomaly_fraction=0.03, kinds=("spike", "level_shift"), random_state=0
    )
    # Today's (faulty) readings predict tomorrow's true maximum temperature.
    X = faults.X[:-1]
    y = weather.data[1:, list(weather.feature_names).index("temp_max")]
    print(
        f"Seattle daily weather, {X.shape[0]} days x {X.shape[1]} features "
        f"({', '.join(weather.feature_names)}); {faults.labels[:-1].sum()} days "
        f"with injected sensor faults in {len(faults.events)} events."
    )

    epochs = 3 if quick else 30
    print(f"\nTraining an LSTM forecaster (window={WINDOW} days, {epochs} epochs)...", flush=True)
    lstm = train_forecaster(X, window=WINDOW, units=32, epochs=epochs, random_state=0, verbose=1)

    pipe = make_pipeline(ThresholdReshaper(lstm, window=WINDOW), Ridge())
    grid = {
        "thresholdreshaper__contamination": [0.02, 0.05] if quick else [0.01, 0.02, 0.05, 0.1],
        "thresholdreshaper__action": ["forecast", "interpolate"],
    }
    cv = TimeSeriesSplit(n_splits=4)
    n_candidates = np.prod([len(v) for v in grid.values()])
    print(
        f"\nGridSearchCV: {n_candidates} candidates x {cv.n_splits} time-series folds, "
        f"n_jobs={n_jobs}...",
        flush=True,
    )
    search = GridSearchCV(pipe, grid, cv=cv, n_jobs=n_jobs, scoring="neg_mean_absolute_error").fit(
        X, y
    )
    baseline = -cross_val_score(Ridge(), X, y, cv=cv, scoring="neg_mean_absolute_error").mean()
    clean_baseline = -cross_val_score(
        Ridge(), weather.data[:-1], y, cv=cv, scoring="neg_mean_absolute_error"
    ).mean()

    best = search.best_estimator_.named_steps["thresholdreshaper"]
    results = {
        "candidates": [
            _candidate(search, rank, best, X, faults)
            for rank in np.argsort(search.cv_results_["rank_test_score"])
        ],
        "best_params": search.best_params_,
        "threshold": best.threshold_,
        "mae_raw": float(baseline),
        "mae_clean": float(clean_baseline),
    }
    _print_results(results, weather.feature_names)
    mask = best.flag(X)
    figure = Path(output_dir) / "threshold_repair.png"
    _plot(weather, faults, best.transform(X), mask, best.action, figure)
    results["figure"] = str(figure)
    print(f"\nBefore/after plot: {figure}")

    generative = _generative_demo(weather, lstm, Path(output_dir), epochs=epochs)
    latent = _latent_demo(weather, lstm, Path(output_dir), epochs=epochs)
    print(f"\nDone in {time.perf_counter() - started:.0f} s.")
    return {
        "threshold": results,
        "generative": generative,
        "latent": latent,
        "figures": [results["figure"], generative["figure"], latent["figure"]],
    }


def _generative_demo(weather, lstm, output_dir, *, epochs):
    """Regenerate held-out days under a forecast 3 °C warmer than the LSTM's."""
    from . import GenerativeReshaper

    names = list(weather.feature_names)
    warmer = np.zeros(len(names), dtype=np.float32)
    warmer[[names.index("temp_max"), names.index("temp_min")]] = 3.0
    train, test = weather.data[:1100], weather.data[1100:]
    print(
        f"\nGenerativeReshaper: a conditional VAE of {WINDOW}-day windows, conditioned on "
        f"the LSTM's forecasts, trained on {len(train)} days ({epochs} epochs)...",
        flush=True,
    )
    gen = GenerativeReshaper(lstm, window=WINDOW, latent_dim=8, epochs=epochs, random_state=0)
    gen.fit(train)
    print(
        f"\nAsking for the {len(test)} held-out days as if the LSTM forecast 3 °C warmer "
        "days.\nGap: mean |LSTM forecast - requested forecast| per forecast feature, on the "
        "held-out days\n(before) and on the result (after); reconstruction error: mean "
        "|X regenerated under its own forecast - X|."
    )
    label_width = 26
    print(
        f"  {'':<{label_width}}"
        + "".join(f"{name:>16}" for name in [*names, "all features"])
        + f"{'reconstruction':>16}"
    )
    variants = {
        "regenerate, fold='mean'": dict(residual=False, fold="mean"),
        "edit, fold='mean'": dict(residual=True, fold="mean"),
        "edit, fold='last'": dict(residual=True, fold="last"),
    }
    rows = {}
    for label, params in variants.items():
        report = gen.set_params(condition=lambda p: p + warmer, **params).report(test)
        rows[label] = report
        gaps = [
            *zip(
                report["condition_gap_before_by_output"],
                report["condition_gap_after_by_output"],
                strict=True,
            ),
            (report["condition_gap_before"], report["condition_gap_after"]),
        ]
        print(
            f"  {label:<{label_width}}"
            + "".join(f"{f'{b:.2f} -> {a:.2f}':>16}" for b, a in gaps)
            + f"{report['reconstruction_error']:>16.2f}"
        )
    scenarios = {
        "observed": test,
        "regenerated under the LSTM's forecast": gen.set_params(
            condition="prediction", residual="auto", fold="mean"
        ).transform(test),
        "edited for a forecast 3 °C warmer": gen.set_params(
            condition=lambda p: p + warmer
        ).transform(test),
    }
    figure = output_dir / "generative_scenarios.png"
    _plot_scenarios(weather, gen, scenarios, warmer, figure)
    print(f"\nScenario plot: {figure}")
    return {"variants": rows, "figure": str(figure)}


def _latent_demo(weather, lstm, output_dir, *, epochs):
    """Counterfactual 14-day windows: what would make the LSTM forecast 3 °C warmer?"""
    from . import LatentReshaper
    from ._windows import sliding_windows

    names = list(weather.feature_names)
    warmer = np.zeros(len(names), dtype=np.float32)
    warmer[[names.index("temp_max"), names.index("temp_min")]] = 3.0
    # Panels of windows: each sequence is one input of the LSTM, searched on its own.
    train = np.ascontiguousarray(sliding_windows(weather.data[:1100], WINDOW))
    test = np.ascontiguousarray(sliding_windows(weather.data[1100:], WINDOW))
    print(
        f"\nLatentReshaper: an LSTM autoencoder of {WINDOW}-day windows trained on "
        f"{len(train)} windows ({epochs} epochs); a search, for all {len(test)} held-out "
        f"windows at once,\nfor the days that would make the LSTM forecast 3 °C warmer "
        f"(reached: every forecast within 0.1 standard deviations of the request)."
    )
    lat = LatentReshaper(
        lstm,
        latent_dim=8,
        epochs=epochs,
        edit="optimize",
        target=lambda p: p + warmer,
        random_state=0,
    ).fit(train)
    variants = {
        "latent space": dict(space="latent", residual=False),
        "latent space, residual": dict(space="latent", residual=True),
        "input space": dict(space="input"),
    }
    print(
        f"  {'search':<24}{'reached':>9}{'gap before':>12}{'gap after':>11}"
        f"{'mean |change|':>15}{'plausibility':>14}{'seconds':>9}"
    )
    rows, results = {}, {}
    for label, params in variants.items():
        started = time.perf_counter()
        lat.set_params(**params)
        report = lat.report(test)
        seconds = time.perf_counter() - started
        rows[label] = report
        if label != "latent space":  # the plot shows the other two
            results[label] = lat.transform(test)
        print(
            f"  {label:<24}{report['validity']:>9.0%}{report['target_gap_before']:>12.2f}"
            f"{report['target_gap_after']:>11.2f}{report['proximity']:>15.2f}"
            f"{report['plausibility']:>14.2f}{seconds:>9.1f}"
        )
    print(
        f"  (plausibility: the autoencoder's reconstruction error on the result; "
        f"{rows['input space']['plausibility_before']:.2f} on the held-out windows)"
    )
    figure = output_dir / "latent_counterfactuals.png"
    _plot_counterfactuals(weather, lat, test, results, warmer, figure)
    print(f"\nCounterfactual plot: {figure}")
    return {
        "variants": {k: _without_arrays(r) for k, r in rows.items()},
        "figure": str(figure),
    }


def _without_arrays(report):
    return {k: v for k, v in report.items() if not isinstance(v, np.ndarray)}


def _plot_counterfactuals(weather, lat, test, results, warmer, path):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from ._predict import predict

    feature = list(weather.feature_names).index("temp_max")
    shown = [0, len(test) // 3, 2 * len(test) // 3]
    fig, axes = plt.subplots(1, len(shown), figsize=(12, 3.8), sharey=True)
    days = np.arange(WINDOW + 1)
    styles = {
        "observed": ("0.3", "-"),
        "latent space, residual": ("tab:blue", "-"),
        "input space": ("tab:red", "-"),
    }
    series = {"observed": test, **{k: results[k] for k in styles if k != "observed"}}
    forecasts = {name: predict(lat.model_, X, None)[:, feature] for name, X in series.items()}
    for axis, index in zip(axes, shown, strict=True):
        for name, (colour, line) in styles.items():
            axis.plot(days[:-1], series[name][index, :, feature], color=colour, ls=line, label=name)
            axis.plot(days[-1], forecasts[name][index], "o", color=colour)
        requested = forecasts["observed"][index] + warmer[feature]
        axis.plot(days[-1], requested, "*", color="black", ms=10, label="requested forecast")
        axis.set_xlabel(f"day (dot at {WINDOW}: the LSTM's forecast)")
        axis.set_title(f"held-out window {index}", fontsize=10)
    axes[0].set_ylabel("temp_max (°C)")
    axes[0].legend(fontsize=8, loc="best")
    fig.suptitle(
        "What would the last two weeks have needed to look like for a forecast 3 °C warmer?"
    )
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def _plot_scenarios(weather, gen, scenarios, warmer, path):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from ._predict import predict

    path.parent.mkdir(parents=True, exist_ok=True)
    feature = list(weather.feature_names).index("temp_max")
    days = slice(0, 120)
    dates = weather.index[1100:][days]
    fig, (top, bottom) = plt.subplots(2, 1, figsize=(11, 6.5), sharex=True)
    colours = ["0.35", "tab:blue", "tab:red"]
    forecasts = {}
    for (name, X), colour in zip(scenarios.items(), colours, strict=True):
        top.plot(
            dates, X[days, feature], color=colour, lw=1.2 if colour == "0.35" else 0.9, label=name
        )
        # The forecast for day t + 1 comes from the window that ends at day t.
        forecast = predict(gen.model_, X, gen.window_)[:, feature]
        forecasts[name] = np.concatenate([np.full(gen.window_, np.nan), forecast[:-1]])
        bottom.plot(dates, forecasts[name][days], color=colour, lw=0.9, label=name)
    requested = forecasts["observed"] + warmer[feature]
    bottom.plot(
        dates, requested[days], color="tab:red", ls=":", lw=1.2, label="requested forecast (+3 °C)"
    )
    top.set_ylabel("temp_max (°C)")
    top.set_title("Held-out days regenerated and edited by GenerativeReshaper")
    bottom.set_ylabel("LSTM forecast of temp_max")
    top.legend(fontsize=8, loc="upper left")
    bottom.legend(fontsize=8, loc="upper left")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def _candidate(search, rank, best, X, faults):
    """Figures of one grid candidate, refitted on the whole series.

    Refitting is cheap: the LSTM's predictions on X are cached, so only the
    threshold and the action are recomputed.
    """
    params = search.cv_results_["params"][rank]
    reshaper = clone(best).set_params(**{k.split("__")[1]: v for k, v in params.items()})
    mask = reshaper.fit(X).flag(X)
    flagged_rows = mask.any(axis=1)
    events = [(start, stop, feature) for start, stop, feature, _ in faults.events if stop <= len(X)]
    return {
        "contamination": params["thresholdreshaper__contamination"],
        "action": params["thresholdreshaper__action"],
        "mae": float(-search.cv_results_["mean_test_score"][rank]),
        "rows_flagged": int(flagged_rows.sum()),
        "precision": float(
            (flagged_rows & faults.labels[: len(X)]).sum() / max(flagged_rows.sum(), 1)
        ),
        "events_caught": sum(mask[start:stop, feature].any() for start, stop, feature in events),
        "events": len(events),
    }


def _print_results(results, feature_names):
    candidates = results["candidates"]
    print(
        "\nCandidates, best first (MAE: downstream error on tomorrow's temp_max in °C, "
        "mean over folds;\nflags and faults caught: the candidate refitted on the "
        "whole series):"
    )
    print(
        f"  {'contamination':>13}  {'action':<12} {'MAE':>6}  {'rows flagged':>12}  "
        f"{'faulty among flagged':>20}  {'fault events caught':>19}"
    )
    for c in candidates:
        print(
            f"  {c['contamination']:>13}  {c['action']:<12} {c['mae']:>6.3f}  "
            f"{c['rows_flagged']:>12}  {c['precision']:>20.0%}  "
            f"{c['events_caught']:>12} of {c['events']}"
        )
    best = candidates[0]
    thresholds = ", ".join(
        f"{name} {value:.2f}"
        for name, value in zip(feature_names, results["threshold"], strict=True)
    )
    rows = [
        ("best parameters", f"contamination={best['contamination']}, action={best['action']}"),
        ("threshold (|residual|)", thresholds),
        ("MAE without reshaping", f"{results['mae_raw']:.3f}"),
        ("MAE with reshaping", f"{best['mae']:.3f}"),
        ("MAE on fault-free data", f"{results['mae_clean']:.3f}"),
    ]
    print()
    width = max(len(name) for name, _ in rows)
    for name, value in rows:
        print(f"  {name:<{width}}  {value}")


def _plot(weather, faults, repaired, mask, action, path):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    path.parent.mkdir(parents=True, exist_ok=True)
    names = list(weather.feature_names)
    shown = range(len(names))
    # Zoom on eight months around a level shift, the fault easiest to see.
    shifts = [start for start, _, _, kind in faults.events if kind == "level_shift"]
    centre = (shifts or [faults.events[0][0]])[0]
    days = slice(max(centre - 120, 0), min(centre + 120, len(repaired)))
    dates = weather.index[days]
    fig, axes = plt.subplots(len(names), 1, figsize=(11, 9), sharex=True)
    for ax, feature in zip(axes, shown, strict=True):
        ax.plot(dates, faults.X_clean[days, feature], color="0.75", lw=2.5, label="true readings")
        ax.plot(
            dates, faults.X[days, feature], color="tab:red", lw=0.8, label="with injected faults"
        )
        ax.plot(
            dates,
            repaired[days, feature],
            color="tab:blue",
            lw=0.8,
            label="after ThresholdReshaper",
        )
        flagged = mask[days, feature]
        ax.scatter(
            dates[flagged],
            faults.X[days, feature][flagged],
            s=12,
            color="tab:red",
            zorder=3,
            label="flagged",
        )
        ax.set_ylabel(names[feature])
    axes[0].legend(ncol=4, loc="upper left", fontsize=8)
    axes[0].set_title(
        f"Values flagged by an LSTM's forecast residual, repaired with action={action!r}"
    )
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
