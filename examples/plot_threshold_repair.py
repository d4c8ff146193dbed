"""
Repairing sensor faults: forecast, interpolation or an imputer
==============================================================

Spikes, level shifts and noise bursts are injected into the bundled Seattle
weather series, so that the truth is known. An LSTM forecaster trained on the
faulty series scores every value by its forecast residual, and
:class:`~sklearn_lstm_reshape.ThresholdReshaper` flags the values past a
threshold. The example scores the flags against the injected events, at the
level of events rather than single values, then compares the ways to repair
the flagged values by how close they bring the series to the truth: the
choice ``action="auto"`` makes, the LSTM's forecast, linear interpolation in
time, and NaN followed by an imputer.
"""

# %%
# Weather with known faults
# -------------------------
#
# :func:`~sklearn_lstm_reshape.datasets.load_seattle_weather` gives four years
# of daily readings (1461 days of precipitation, maximum and minimum
# temperature and wind). :func:`~sklearn_lstm_reshape.datasets.inject_anomalies`
# adds faults to 10 % of the days and records each one as an event
# ``(start, stop, feature, kind)``: rows ``start:stop`` of one feature. Its
# ``mask`` marks every faulty value, and ``X_clean`` keeps the true readings.
from collections import Counter

import matplotlib.dates as mdates
import matplotlib.pyplot as plt
import numpy as np
from matplotlib.ticker import NullFormatter, PercentFormatter
from sklearn.experimental import enable_iterative_imputer  # noqa: F401
from sklearn.impute import IterativeImputer
from sklearn.pipeline import make_pipeline

from sklearn_lstm_reshape import ThresholdReshaper
from sklearn_lstm_reshape.datasets import inject_anomalies, load_seattle_weather
from sklearn_lstm_reshape.models import train_forecaster

weather = load_seattle_weather()
names = list(weather.feature_names)
faults = inject_anomalies(weather.data, anomaly_fraction=0.1, random_state=0)
KINDS = ("spike", "level_shift", "noise_burst")
n_events = Counter(kind for *_, kind in faults.events)
print(
    f"{len(faults.events)} fault events on {faults.labels.sum()} of {len(faults.X)} days, "
    f"{faults.mask.sum()} faulty values: " + ", ".join(f"{n_events[kind]} {kind}" for kind in KINDS)
)

# %%
# An LSTM forecaster, trained on the faulty series
# ------------------------------------------------
#
# In practice no fault-free copy of the data exists, so the forecaster is
# trained on the faulty series itself: faults are rare enough that it learns
# the weather rather than the faults. It forecasts each day from the 14 days
# before it, and the reshaper scores a value by ``|reading - forecast|``.
WINDOW = 14
lstm = train_forecaster(faults.X, window=WINDOW, units=32, epochs=20, random_state=0)

# %%
# Scoring the flags by event
# --------------------------
#
# A fault is an event that spans days, so detection is scored by event. A true
# event is one injected ``(start, stop, feature)``; a detected event is a
# maximal run of consecutive flagged values of one feature. Recall is the
# fraction of true events with at least one flagged value of their feature;
# precision is the fraction of detected runs that overlap a true event.
#
# This is not the *point-adjusted* score common in anomaly-detection papers.
# Point adjustment counts every value of a true event as flagged as soon as
# one of them is, then computes point-wise precision and recall. One flag on
# the first day of a 30-day level shift then counts as 30 true positives, so
# long events caught once dominate the score and the point-wise F1 is
# inflated: even random flags can score well. Here every event counts once,
# whatever its length, and so does every run of false flags.
#
# By default (``contamination="auto"``) the threshold of each feature is a
# robust fence of its training scores, which needs no guess of how many faults
# there are. A float ``contamination`` instead flags that fraction of each
# feature's values. The LSTM's predictions are cached, so refitting the
# reshaper for another threshold does not run the model again.


def flagged_runs(flags):
    """(start, stop, feature) of every maximal run of flagged values of a feature."""
    runs = []
    for feature in range(flags.shape[1]):
        edges = np.flatnonzero(np.diff(flags[:, feature], prepend=False, append=False))
        runs += [
            (start, stop, feature) for start, stop in zip(edges[::2], edges[1::2], strict=True)
        ]
    return runs


def event_scores(flags, faults):
    """Event-level precision and recall of a flag mask against the injected events."""
    recall = np.mean([flags[start:stop, f].any() for start, stop, f, _ in faults.events])
    runs = flagged_runs(flags)
    hits = [faults.mask[start:stop, f].any() for start, stop, f in runs]
    return (np.mean(hits) if runs else np.nan), recall


def f1(precision, recall):
    return 2 * precision * recall / (precision + recall) if precision + recall else 0.0


def point_f1(flags, truth):
    """Point-wise F1 of a flag mask: every value counts once."""
    hits = (flags & truth).sum()
    return f1(hits / max(flags.sum(), 1), hits / truth.sum())


def point_adjusted(flags, faults):
    """The flags with every value of a true event set once any of them is flagged."""
    adjusted = flags.copy()
    for start, stop, feature, _ in faults.events:
        if flags[start:stop, feature].any():
            adjusted[start:stop, feature] = True
    return adjusted


CONTAMINATIONS = ["auto", 0.005, 0.01, 0.02, 0.05, 0.1]
detection = {}
print(
    f"{'contamination':>13} {'flagged':>8} {'event P':>8} {'event R':>8} {'event F1':>9}"
    f" {'point F1':>9} {'point-adjusted F1':>18}   caught: spike, shift, burst"
)
for contamination in CONTAMINATIONS:
    reshaper = ThresholdReshaper(lstm, window=WINDOW, contamination=contamination, random_state=0)
    flags = reshaper.fit(faults.X).flag(faults.X)
    precision, recall = event_scores(flags, faults)
    detection[contamination] = precision, recall, flags.mean()
    caught = Counter(kind for start, stop, f, kind in faults.events if flags[start:stop, f].any())
    print(
        f"{contamination:>13} {flags.sum():>8} {precision:>8.2f} {recall:>8.2f}"
        f" {f1(precision, recall):>9.2f} {point_f1(flags, faults.mask):>9.2f}"
        f" {point_f1(point_adjusted(flags, faults), faults.mask):>18.2f}   "
        + ", ".join(f"{caught[kind]}/{n_events[kind]}" for kind in KINDS)
    )

# %%
# The default threshold flags under one percent of the values, and every one
# of its runs of flags is a fault. It is strict, though: it flags a value the
# model misses by several times its usual error, and the day-to-day weather
# is hard to forecast, so a fault has to be large to stand out. It finds five
# of the nine spikes and three of the six level shifts, one of them only
# because 20 days forecast from the days before them, each from the
# forecasts before it, depart from the readings (``span``), though no single
# day of the shift crosses the threshold. A lower threshold finds more
# of them and many more false flags: from a contamination of 1 %, most runs
# of flags are not faults, since the weather surprises a forecaster as much
# as a fault does and every feature gets its share of flags. Once a fault is
# flagged, the rows after it are scored from the repaired window (see
# :ref:`threshold`), so a level shift that is flagged is flagged through its
# body, not only at its edges. The last columns show what point adjustment
# does to the same flags: it lifts their F1 far above the event F1, because
# a flag on the first day of a 20-day shift becomes 20 true positives.
#
# Four repairs of the same flags
# ------------------------------
#
# The action does not change which values are flagged, only what replaces
# them, so the actions are compared by repair error at the default threshold:
#
# - ``action="auto"``, the default: per feature, the forecast, the
#   interpolation or ``"impute"`` (an imputer reading every feature of the
#   same day and the two days either side), whichever repaired blocks of
#   clean values that ``fit`` hid from the training data best;
# - ``action="forecast"``: the LSTM's forecast of the value, made from the
#   repaired values before it;
# - ``action="interpolate"``: a straight line between the nearest unflagged
#   values of the same feature, before and after;
# - ``action="nan"`` followed by ``IterativeImputer`` in a pipeline, which
#   regresses each feature on the others of the same day. Maximum and minimum
#   temperature are strongly correlated, so a flagged one is well predicted
#   by the other; unlike ``KNNImputer`` this does not depend on the features'
#   units, and unlike ``SimpleImputer`` it does not fill in the four-year
#   mean in summer and winter alike. This imputer treats the rows as
#   independent samples, though: it does not see time order, where
#   ``action="impute"`` reads the neighbouring days too.
#
# The error is the mean absolute difference from the true readings, in
# standard deviations of each feature (the unit in which the faults were
# sized), so that millimetres, degrees and metres per second can be averaged.
CONTAMINATION = "auto"
scale = faults.X_clean.std(axis=0)
kind_of = np.full(faults.X.shape, "", dtype=object)
for start, stop, feature, kind in faults.events:
    kind_of[start:stop, feature] = kind


def repairs(contamination):
    """The series repaired by each action, flagged with one threshold."""
    reshaper = ThresholdReshaper(lstm, window=WINDOW, contamination=contamination, random_state=0)
    imputer = IterativeImputer(max_iter=30, random_state=0)
    return {
        "no repair": faults.X,
        "auto": reshaper.set_params(action="auto").fit_transform(faults.X),
        "forecast": reshaper.set_params(action="forecast").fit_transform(faults.X),
        "interpolate": reshaper.set_params(action="interpolate").fit_transform(faults.X),
        "nan + IterativeImputer": make_pipeline(
            reshaper.set_params(action="nan"), imputer
        ).fit_transform(faults.X),
    }


def errors(repaired):
    """Mean absolute error against the truth, in standard deviations."""
    error = np.abs(repaired - faults.X_clean) / scale
    by_part = {kind: error[kind_of == kind].mean() for kind in KINDS}
    by_part["all faulty"] = error[faults.mask].mean()
    by_part["fault-free"] = error[~faults.mask].mean()
    by_part["all values"] = error.mean()
    return by_part


repaired = repairs(CONTAMINATION)
repair_error = {action: errors(X) for action, X in repaired.items()}
print(f"\nMean absolute error (standard deviations), contamination={CONTAMINATION!r}:")
chosen = ThresholdReshaper(lstm, window=WINDOW, random_state=0).fit(faults.X).repair_
print("action='auto' chose: " + ", ".join(f"{n}: {r}" for n, r in zip(names, chosen, strict=True)))
parts = list(repair_error["no repair"])
print(f"{'':>22}" + "".join(f"{part:>12}" for part in parts))
for action, by_part in repair_error.items():
    print(f"{action:>22}" + "".join(f"{by_part[part]:>12.3f}" for part in parts))

# %%
# Every repair removes more than half of the error of the spikes it flags.
# Each forecast is made from the repaired values before it, not from the
# fault. On the faulty values the four repairs lie within a few hundredths of
# each other: the imputer, which reads the other features of the same day,
# a little ahead of the forecast, and interpolation a little behind it.
# ``"auto"`` chose the imputation for precipitation and wind, interpolation
# for maximum temperature and the forecast for minimum temperature, from the
# errors on hidden values, and lands between the imputer and the forecast.
# The noise burst and half of the level shifts are not flagged, so no repair
# changes them.
#
# Over the whole series every repair helps at the default threshold, and at
# every threshold up to a few percent of flags: the error falls by more than
# a third at the default and by more than two fifths at 0.5 and 1 %. Beyond
# that the genuine readings replaced by estimates cost more than the faults
# repaired gain: at 10 % every repair leaves the series worse than it was.
# A run of flags goes on past half the threshold while a value past it is in
# the window (``hysteresis``), so the lower the threshold, the longer the
# runs of false flags, and the forecast's errors on them add up. How many
# flags are worth their cost can be measured only where the truth is known,
# as it is here: neither a downstream score nor the reshaper's own ``score``
# can tell (:ref:`sphx_glr_auto_examples_plot_threshold_grid_search.py`), so
# without labelled faults, leave the default threshold.
overall = {action: [] for action in repaired}
for contamination in CONTAMINATIONS:
    for action, X in repairs(contamination).items():
        overall[action].append(errors(X)["all values"])
print("\nMean absolute error over all values (standard deviations), by contamination:")
print(f"{'':>22}" + "".join(f"{c!s:>8}" for c in CONTAMINATIONS))
for action, values in overall.items():
    print(f"{action:>22}" + "".join(f"{value:>8.3f}" for value in values))

# %%
# What the repairs look like
# --------------------------
#
# The top row zooms on the longest spike, level shift and noise burst that are
# not on precipitation (zero on most days, its faults are hard to see) and
# have no other fault of their feature nearby. The lines are the true and the
# faulty readings; the markers are the values each action puts in place of
# the values flagged at the default threshold (where there are none, the
# fault was not flagged). The bottom row shows the event scores against the
# fraction of the values flagged (the stars are the default threshold), the
# repair error on the faulty values by kind of fault, and the error over all
# values.
MARGIN = 20  # days shown on each side of an event
COLOURS = {
    "auto": "tab:purple",
    "forecast": "tab:blue",
    "interpolate": "tab:green",
    "nan + IterativeImputer": "tab:orange",
}
MARKERS = {"auto": "x", "forecast": "o", "interpolate": "s", "nan + IterativeImputer": "^"}
reshaper = ThresholdReshaper(lstm, window=WINDOW, contamination=CONTAMINATION, random_state=0)
flags = reshaper.fit(faults.X).flag(faults.X)


def isolated(event):
    start, stop, feature, _ = event
    return all(
        other is event
        or other[2] != feature
        or other[0] >= stop + MARGIN
        or other[1] <= start - MARGIN
        for other in faults.events
    )


shown = {
    kind: max(
        (
            event
            for event in faults.events
            if event[3] == kind and names[event[2]] != "precipitation" and isolated(event)
        ),
        key=lambda event: event[1] - event[0],
    )
    for kind in KINDS
}

fig, axes = plt.subplots(2, 3, figsize=(14, 8.5))
for ax, (kind, (start, stop, feature, _)) in zip(axes[0], shown.items(), strict=True):
    days = slice(start - MARGIN, stop + MARGIN)
    dates = weather.index[days]
    hit = flags[days, feature]
    ax.axvspan(
        weather.index[start], weather.index[stop - 1], color="tab:red", alpha=0.1, label="fault"
    )
    ax.plot(dates, faults.X_clean[days, feature], color="0.6", lw=3, label="true readings")
    ax.plot(dates, faults.X[days, feature], color="tab:red", lw=1, label="faulty readings")
    for action, colour in COLOURS.items():
        ax.plot(
            dates[hit],
            repaired[action][days, feature][hit],
            MARKERS[action],
            color=colour,
            mfc="none",
            label=f"flagged, {action}",
        )
    ax.set_title(f"{kind.replace('_', ' ')} on {names[feature]}")
    ax.set_ylabel(names[feature])
    locator = mdates.AutoDateLocator(maxticks=6)
    ax.xaxis.set_major_locator(locator)
    ax.xaxis.set_major_formatter(mdates.ConciseDateFormatter(locator))

ax = axes[1, 0]
FLOATS = [c for c in CONTAMINATIONS if c != "auto"]
flagged = [detection[c][2] for c in FLOATS]  # the fraction of values each flags
for i, (measure, marker) in enumerate([("precision", "o"), ("recall", "s")]):
    line = ax.plot(flagged, [detection[c][i] for c in FLOATS], marker=marker, label=measure)
    ax.plot(
        detection["auto"][2],
        detection["auto"][i],
        "*",
        ms=14,
        color=line[0].get_color(),
        label=f"{measure}, contamination='auto'",
    )
ax.set_xscale("log")
ax.xaxis.set_major_formatter(PercentFormatter(1.0, decimals=1))
ax.xaxis.set_minor_formatter(NullFormatter())
ax.set_ylim(0, 1.05)
ax.set_xlabel("fraction of the values flagged")
ax.set_ylabel("event-level score")
ax.set_title("Detection of the injected events")
ax.legend(fontsize=8)

ax = axes[1, 1]
COLOURS = {"no repair": "tab:red", **COLOURS}
groups = [*KINDS, "all faulty"]
width = 0.8 / len(repair_error)
for i, (action, by_part) in enumerate(repair_error.items()):
    positions = np.arange(len(groups)) + (i - (len(repair_error) - 1) / 2) * width
    ax.bar(positions, [by_part[group] for group in groups], width, color=COLOURS[action])
ax.set_xticks(
    np.arange(len(groups)),
    [
        f"{kind.replace('_', ' ')}\n({n_events[kind]} event{'s' * (n_events[kind] > 1)})"
        for kind in KINDS
    ]
    + ["all faulty\nvalues"],
)
ax.set_ylabel("MAE on the faulty values (std)")
ax.set_title(f"Repair error at contamination={CONTAMINATION!r}")
ax.legend(handles=ax.containers, labels=list(repair_error), fontsize=8)

ax = axes[1, 2]
for action, values in overall.items():
    (line,) = ax.plot(flagged, values[1:], marker="o", color=COLOURS[action], label=action)
    ax.plot(detection["auto"][2], values[0], "*", ms=14, color=line.get_color())
ax.set_xscale("log")
ax.xaxis.set_major_formatter(PercentFormatter(1.0, decimals=1))
ax.xaxis.set_minor_formatter(NullFormatter())
ax.set_xlabel("fraction of the values flagged (stars: contamination='auto')")
ax.set_ylabel("MAE on all values (std)")
ax.set_title("Repair error over the whole series")
ax.legend(fontsize=8)

fig.suptitle("Flagging injected faults with an LSTM's forecast residual, and repairing them")
fig.legend(
    *axes[0, 0].get_legend_handles_labels(),
    loc="upper center",
    ncol=7,
    fontsize=9,
    bbox_to_anchor=(0.5, 0.96),
)
fig.tight_layout(rect=(0, 0, 1, 0.945))
plt.show()
