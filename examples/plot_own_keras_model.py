"""
Wrapping your own Keras LSTM, saved as a ``.keras`` file, on a 3-D panel
========================================================================

You do not need the package's model helpers: any fitted Keras model whose
input is ``(batch, timesteps, n_features)`` can be wrapped. This example
builds and trains an LSTM sequence-to-sequence autoencoder with plain Keras
on two years of the bundled Seattle weather, saves it as a ``.keras`` file,
and hands that path to :class:`~sklearn_lstm_reshape.ThresholdReshaper`.
The reshaper then finds and repairs anomalies injected into the next two
years, cut into two-week sequences: a 3-D panel in which every sequence is
one input of the model.
"""

# %%
# Choosing a Keras backend
# ------------------------
# Keras 3 reads its backend once, when it is first imported, and falls back
# to TensorFlow (the default written in ``~/.keras/keras.json``), which may
# not be installed. The package picks an installed backend itself, but only
# when *it* imports Keras, so a script that imports ``keras`` first must
# choose one before that import.
import os

# Plain "import keras" would look for TensorFlow: use JAX unless a backend was chosen.
os.environ.setdefault("KERAS_BACKEND", "jax")

import tempfile
from pathlib import Path

import keras
import matplotlib.dates as mdates
import matplotlib.pyplot as plt
import numpy as np
from sklearn.metrics import precision_score, recall_score

from sklearn_lstm_reshape import ThresholdReshaper
from sklearn_lstm_reshape.datasets import inject_anomalies, load_seattle_weather

keras.utils.set_random_seed(0)

# %%
# The data
# --------
# The bundled weather has one row per day from 2012 to 2015. We keep the
# two temperatures and the wind: precipitation is zero on most days and
# comes in bursts, so a rainy spell looks much like an injected anomaly and
# would blur the scores. The model is trained on 2012-2013 and the
# anomalies are looked for in 2014-2015, data the model has never seen.
weather = load_seattle_weather()
features = [1, 2, 3]  # temp_max, temp_min, wind
names = weather.feature_names[features]
series = weather.data[:, features]
train_days = 731  # 2012-01-01 to 2013-12-31
train, test = series[:train_days], series[train_days:]
test_dates = weather.index[train_days:]
n_features = series.shape[1]
timesteps = 14  # one model input is two weeks of days

# %%
# Your own model, with plain Keras
# --------------------------------
# The model is a classic LSTM autoencoder: an encoder LSTM compresses two
# weeks into one vector, a decoder LSTM unrolls it back into two weeks. Its
# output has the shape of its input, so it scores each day by how badly it
# reconstructs it: a model trained on normal weather reconstructs normal
# weather well and anomalies badly.
#
# It is trained on every two-week stretch of 2012-2013 (sliding by one day),
# in standard units so that each feature counts alike. The reshaper passes X
# to the model as it is, in degrees and metres per second, so the saved
# model wraps the trained network between two ``Normalization`` layers: it
# reads raw values and writes raw values, and the scaling travels with the
# file.
train_sequences = np.lib.stride_tricks.sliding_window_view(train, timesteps, axis=0)
train_sequences = train_sequences.transpose(0, 2, 1)  # (718, 14, 3)
mean, variance = train.mean(axis=0), train.var(axis=0)
scaled = (train_sequences - mean) / np.sqrt(variance)

inputs = keras.Input(shape=(timesteps, n_features))
code = keras.layers.LSTM(32)(inputs)
hidden = keras.layers.RepeatVector(timesteps)(code)
hidden = keras.layers.LSTM(32, return_sequences=True)(hidden)
outputs = keras.layers.TimeDistributed(keras.layers.Dense(n_features))(hidden)
network = keras.Model(inputs, outputs)
network.compile(optimizer=keras.optimizers.Adam(learning_rate=0.01), loss="mse")
history = network.fit(scaled, scaled, epochs=30, batch_size=64, verbose=0)
print(f"training loss (standard units): {history.history['loss'][-1]:.3f}")

raw = keras.Input(shape=(timesteps, n_features))
standard = keras.layers.Normalization(mean=mean, variance=variance)(raw)
reconstructed = network(standard)
restored = keras.layers.Normalization(mean=mean, variance=variance, invert=True)(reconstructed)
model = keras.Model(raw, restored)

workdir = tempfile.TemporaryDirectory()
path = Path(workdir.name) / "weather_autoencoder.keras"
model.save(path)

# %%
# A 3-D panel with known anomalies
# --------------------------------
# :func:`~sklearn_lstm_reshape.datasets.inject_anomalies` adds spikes, level
# shifts and noise bursts to the 2014-2015 *series*, each on one feature, and
# returns a mask of the anomalous values. Cutting the series into
# sequences only afterwards keeps that ground truth value by value.
#
# The panel is made of consecutive, non-overlapping two-week sequences: an
# array of shape ``(n_sequences, timesteps, n_features)``. This is the other
# data layout the reshapers accept. A 2-D array ``(n_timesteps,
# n_features)`` is one long series, which the reshaper cuts into sliding
# windows of ``window`` rows and scores each row by the window that ends at
# it. A 3-D array is taken as already cut: each sequence is one model input,
# so no ``window`` is needed (it must match the model's 14 timesteps), and a
# reconstruction scores every value of every sequence, the first days
# included. Since the sequences do not overlap, every day is scored once.
# See :ref:`data_conventions`.
injected = inject_anomalies(test, anomaly_fraction=0.1, random_state=0)
n_sequences = len(test) // timesteps  # 52; the last 2 days of 2015 are dropped
n_days = n_sequences * timesteps
panel = injected.X[:n_days].reshape(n_sequences, timesteps, n_features)
clean = injected.X_clean[:n_days].reshape(panel.shape)
truth = injected.mask[:n_days].reshape(panel.shape)
print(f"panel shape: {panel.shape}, anomalous values: {truth.sum()} ({truth.mean():.1%})")

# %%
# Wrapping the saved model
# ------------------------
# ``model=path`` is all it takes: the reshaper loads the ``.keras`` file in
# ``fit``. A ``keras.Model`` already in memory works the same way (see
# below). Either way the model is frozen: the reshaper only runs it forward,
# and never trains or modifies it. The same path can be given to
# :class:`~sklearn_lstm_reshape.GenerativeReshaper` and
# :class:`~sklearn_lstm_reshape.LatentReshaper`.
#
# ``score_by="reconstruction"`` scores each value by ``|x - x̂|``, its
# distance from the model's reconstruction, with one threshold per feature.
# About one day in ten holds one anomalous value out of three, so
# ``contamination=0.03`` flags the 3 % of each feature's values that the
# model reconstructs worst. ``action="forecast"`` replaces a flagged value
# with the model's reconstruction of it; all other values are returned
# unchanged. See :ref:`threshold` for the other scores and actions.
#
# ``fit`` calibrates the thresholds on the data it is given, here the panel
# to be cleaned itself, as when no clean data is at hand. With clean data,
# fit on it and transform the new data.
reshaper = ThresholdReshaper(
    model=path, score_by="reconstruction", contamination=0.03, action="forecast"
)
repaired = reshaper.fit_transform(panel)
flags = reshaper.flag(panel)

# %%
# How well were the anomalies found and repaired? Precision is the share of
# flagged values that were anomalous, recall the share of anomalous values
# that were flagged. The repair error is the mean distance from the clean
# values, over the anomalous values, before and after the repair, in the
# feature's unit.
units = ["°C", "°C", "m/s"]
for j, name in enumerate(names):
    is_bad, is_flagged = truth[..., j].ravel(), flags[..., j].ravel()
    before = np.abs(panel[..., j] - clean[..., j])[truth[..., j]].mean()
    after = np.abs(repaired[..., j] - clean[..., j])[truth[..., j]].mean()
    print(
        f"{name}: {is_bad.sum()} anomalous, {is_flagged.sum()} flagged, "
        f"precision {precision_score(is_bad, is_flagged):.2f}, "
        f"recall {recall_score(is_bad, is_flagged):.2f}, "
        f"repair error {before:.2f} -> {after:.2f} {units[j]}"
    )
print(
    f"all values: precision {precision_score(truth.ravel(), flags.ravel()):.2f}, "
    f"recall {recall_score(truth.ravel(), flags.ravel()):.2f}"
)
report = reshaper.report(panel)
print(
    f"\nmodel reconstruction error: {report['model_error_before']:.3f} before, "
    f"{report['model_error_after']:.3f} after the repair"
)

# %%
# The same model, already loaded
# ------------------------------
# Passing the ``keras.Model`` itself gives the same flags. The reshaper
# recognises the same weights, so it does not even run the model again.
loaded = keras.models.load_model(path)
same = ThresholdReshaper(
    model=loaded, score_by="reconstruction", contamination=0.03, action="forecast"
).fit(panel)
print(f"same flags with the loaded keras.Model: {np.array_equal(same.flag(panel), flags)}")

# %%
# Looking at a few anomalies
# --------------------------
# Each plot shows two consecutive sequences (the dotted line is where one
# ends and the next begins) around one injected anomaly, on the feature it
# hit. The shaded days are the anomaly; crosses mark the values the reshaper
# flagged, which it replaced with the model's reconstruction of them. Where
# nothing was flagged, the repaired line hides the one with anomalies.
#
# Spikes are caught and repaired. A level shift is caught where it starts or
# ends inside a sequence, but not in a sequence it fills from end to end: the
# model judges every sequence on its own and knows nothing of the season, so
# two weeks of much colder nights are still a plausible two weeks. Longer
# sequences, or the day of the year given to the model as a feature, would
# help. And where most of a sequence is anomalous, even a flagged value is
# repaired only part of the way, because the reconstruction is made from the
# damaged sequence. A few genuine but unusual days are flagged too: the
# price of a threshold set by ``contamination``.
shown = [next(e for e in injected.events if e[3] == "spike")]
shown += [e for e in injected.events if e[3] != "spike" and e[0] < n_days][:3]
fig, axes = plt.subplots(2, 2, figsize=(12, 6.5))
for ax, (start, stop, j, kind) in zip(axes.flat, shown, strict=True):
    s = min(start // timesteps, n_sequences - 2)  # the sequence where the event starts
    days = test_dates[s * timesteps : (s + 2) * timesteps]
    two = np.s_[s : s + 2, :, j]
    flagged = flags[two].ravel()
    half_day = np.timedelta64(12, "h")
    span = test_dates[[start, min(stop, n_days) - 1]]
    ax.axvspan(span[0] - half_day, span[1] + half_day, color="0.9", label="injected anomaly")
    ax.axvline(days[timesteps] - half_day, color="0.5", ls=":", lw=1, label="sequence boundary")
    ax.plot(days, clean[two].ravel(), color="0.6", lw=3, label="clean")
    ax.plot(days, panel[two].ravel(), color="tab:red", lw=1, label="with anomalies")
    ax.plot(days, repaired[two].ravel(), color="tab:blue", lw=1.5, label="repaired")
    ax.scatter(
        days[flagged], panel[two].ravel()[flagged], marker="x", color="k", zorder=3, label="flagged"
    )
    ax.set_xlim(days[0] - half_day, days[-1] + half_day)
    ax.xaxis.set_major_formatter(mdates.ConciseDateFormatter(ax.xaxis.get_major_locator()))
    ax.set_title(f"{kind.replace('_', ' ')} in {names[j]}")
    ax.set_xlabel("day")
    ax.set_ylabel(f"{names[j]} ({units[j]})")
axes.flat[0].legend(loc="best", fontsize="small")
fig.suptitle("Your own LSTM autoencoder, loaded from a .keras file, on two-week sequences")
fig.tight_layout()
plt.show()

workdir.cleanup()
