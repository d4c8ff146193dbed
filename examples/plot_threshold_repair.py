"""
Repairing injected anomalies with an LSTM's forecast
====================================================

A synthetic series with injected spikes, level shifts and noise bursts is
repaired with :class:`~sklearn_lstm_reshape.ThresholdReshaper`: a default
LSTM forecaster is trained on it, values whose forecast residual is in the
top 2 % are flagged and replaced by the forecast.
"""

# %%
import matplotlib.pyplot as plt
import numpy as np

from sklearn_lstm_reshape import ThresholdReshaper
from sklearn_lstm_reshape.datasets import make_anomalous_series

data = make_anomalous_series(n_timesteps=1500, n_features=2, random_state=0)
reshaper = ThresholdReshaper(window=24, contamination=0.02, epochs=10, random_state=0)
repaired = reshaper.fit_transform(data.X)
flags = reshaper.flag(data.X)

caught = (flags & data.mask).sum() / data.mask.sum()
print(f"anomalous values caught: {caught:.0%}")
print(reshaper.report(data.X))

# %%
fig, ax = plt.subplots(figsize=(10, 3.5))
rows = np.arange(len(data.X))
ax.plot(rows, data.X_clean[:, 0], color="0.75", lw=2.5, label="clean")
ax.plot(rows, data.X[:, 0], color="tab:red", lw=0.8, label="with anomalies")
ax.plot(rows, repaired[:, 0], color="tab:blue", lw=0.8, label="repaired")
ax.scatter(rows[flags[:, 0]], data.X[flags[:, 0], 0], s=10, color="tab:red", zorder=3)
ax.legend(loc="upper left")
ax.set_xlabel("row")
fig.tight_layout()
plt.show()
