"""
Counterfactuals of a classifier: against the nearest unlike neighbour and Native Guide
=======================================================================================

An LSTM reads two weeks of Seattle weather and says whether it will rain
tomorrow. For a fortnight after which it says "dry", what is the smallest
change to those two weeks that would make it say "rain"?
:class:`~sklearn_lstm_reshape.CounterfactualReshaper` answers for every
held-out fortnight. This example compares its answers with the two things a
user would try first: the nearest unlike neighbour (the nearest training
fortnight the LSTM already calls rainy) and Native Guide (Delaney et al.,
2021: that neighbour's most important stretch of days, swapped in, grown
until the prediction flips), on the figures of the field: validity,
proximity, the fraction of days changed, and plausibility as the local
outlier factor's outlier rate.
"""

# %%
# The data and the classifier
# ---------------------------
# :func:`~sklearn_lstm_reshape.datasets.load_seattle_weather` gives 1461 days
# of four readings: precipitation (mm), maximum and minimum temperature (°C)
# and wind (m/s). Each 14-day window is one sequence of a 3-D panel,
# standardised by the training years; its label is whether the next day has
# rain. The years 2012-2014 train the classifier; 2015 is held out.
import matplotlib.pyplot as plt
import numpy as np

from sklearn_lstm_reshape import CounterfactualReshaper
from sklearn_lstm_reshape._keras import import_keras
from sklearn_lstm_reshape.datasets import load_seattle_weather
from sklearn_lstm_reshape.metrics import (
    changed_timesteps,
    lof_outlier_rate,
    predicted_class,
    proximity,
    reached_target,
)

WINDOW = 14

weather = load_seattle_weather()
names = list(weather.feature_names)
split = int(np.searchsorted(weather.index, np.datetime64("2015-01-01")))
mean, std = weather.data[:split].mean(axis=0), weather.data[:split].std(axis=0)
days = ((weather.data - mean) / std).astype(np.float32)
windows = np.lib.stride_tricks.sliding_window_view(days[:-1], WINDOW, axis=0)
windows = np.ascontiguousarray(windows.transpose(0, 2, 1))
rain_tomorrow = (weather.data[WINDOW:, names.index("precipitation")] > 0).astype(int)
train = slice(0, split - WINDOW)
test = slice(split - WINDOW, None)

keras = import_keras()
keras.utils.set_random_seed(0)
classifier = keras.Sequential(
    [
        keras.Input((WINDOW, len(names))),
        keras.layers.LSTM(32),
        keras.layers.Dense(2, activation="softmax"),
    ]
)
classifier.compile("adam", "sparse_categorical_crossentropy", metrics=["accuracy"])
classifier.fit(windows[train], rain_tomorrow[train], epochs=15, batch_size=32, verbose=0)
accuracy = classifier.evaluate(windows[test], rain_tomorrow[test], verbose=0)[1]
print(f"held-out accuracy: {accuracy:.2f} (always 'dry': {1 - rain_tomorrow[test].mean():.2f})")

# %%
# Forty held-out fortnights called "dry"
# --------------------------------------
# The target of each is the other class, "rain": the estimator's default for
# a classifier (its most probable other class).
reference = windows[train]
reference_class = predicted_class(classifier.predict(reference, verbose=0))
held_out = windows[test]
dry = held_out[predicted_class(classifier.predict(held_out, verbose=0)) == 0][:40]
target = np.ones(len(dry), dtype=int)

# %%
# The peers
# ---------
# The nearest unlike neighbour is valid by construction. Native Guide swaps in
# the neighbour's contiguous stretch of days with the largest summed
# importance, one day longer at a time, until the prediction flips. Its paper
# takes the importance from a class activation map, which an LSTM has not;
# here a day's importance is how much the probability of rain falls when
# that day of the neighbour is replaced by the instance's.


def nearest_unlike_neighbours(instances):
    rainy = reference[reference_class == 1]
    flat = rainy.reshape(len(rainy), -1)
    distances = ((instances.reshape(len(instances), 1, -1) - flat) ** 2).sum(axis=2)
    return rainy[np.argmin(distances, axis=1)]


def native_guide(instances, neighbours):
    found = neighbours.copy()
    for i, (instance, neighbour) in enumerate(zip(instances, neighbours, strict=True)):
        occluded = np.repeat(neighbour[None], WINDOW, axis=0)
        occluded[np.arange(WINDOW), np.arange(WINDOW)] = instance
        rain = classifier.predict(np.concatenate([neighbour[None], occluded]), verbose=0)[:, 1]
        importance = rain[0] - rain[1:]
        for length in range(1, WINDOW):
            sums = np.convolve(importance, np.ones(length), mode="valid")
            start = int(np.argmax(sums))
            candidate = instance.copy()
            candidate[start : start + length] = neighbour[start : start + length]
            if predicted_class(classifier.predict(candidate[None], verbose=0))[0] == 1:
                found[i] = candidate
                break
    return found


neighbours = nearest_unlike_neighbours(dry)
counterfactuals = {
    "nearest unlike neighbour": neighbours,
    "Native Guide": native_guide(dry, neighbours),
    "CounterfactualReshaper()": CounterfactualReshaper(classifier).fit(reference).transform(dry),
}

# %%
# The figures
# -----------
# Validity: the fraction the LSTM now calls rainy. L2: the distance from the
# instance (in standard deviations of the readings). Changed: the fraction
# of days changed. LOF: the fraction of counterfactuals a local outlier
# factor, fitted on the training fortnights the LSTM calls rainy, calls
# outliers (lower looks more like real rainy fortnights).
print(f"{'':26} validity    L2  changed   LOF")
for name, found in counterfactuals.items():
    valid = reached_target(classifier.predict(found, verbose=0), target).mean()
    lof = lof_outlier_rate(found, reference, target=target, reference_classes=reference_class)
    print(
        f"{name:26} {valid:8.2f} {proximity(dry, found):5.2f} "
        f"{changed_timesteps(dry, found):8.2f} {lof:5.2f}"
    )

# %%
# One fortnight
# -------------
# The three answers for the first instance, in the readings' own units:
# the neighbour changes every day, Native Guide a stretch of the neighbour's
# days, the estimator the fewest days it could find, pulled back toward the
# instance as far as the prediction allows.
fig, axes = plt.subplots(1, 2, figsize=(11, 3.8), sharex=True)
shown = {"instance (dry)": ("0.3", dry[0])}
colours = ["tab:blue", "tab:orange", "tab:red"]
for (name, found), colour in zip(counterfactuals.items(), colours, strict=True):
    shown[name] = (colour, found[0])
for ax, feature in zip(axes, ["precipitation", "temp_max"], strict=True):
    j = names.index(feature)
    for name, (colour, values) in shown.items():
        ax.plot(np.arange(WINDOW), values[:, j] * std[j] + mean[j], color=colour, label=name)
    ax.set_xlabel("day")
    ax.set_ylabel(feature)
axes[0].legend(fontsize=8)
fig.suptitle("What would have made the LSTM forecast rain?")
fig.tight_layout()
plt.show()
