"""Example time series: a bundled real data set and anomaly generators.

The real data set ships inside the package, so nothing is downloaded at run
time. The generators return ground-truth anomaly labels, which makes them
suitable for testing and benchmarking anomaly detectors built on top of the
LSTM reshaping transformers.
"""

import gzip
import math
import numbers
from importlib.resources import files

import numpy as np
from sklearn.utils import Bunch, check_array, check_random_state

__all__ = ["inject_anomalies", "load_seattle_weather", "make_anomalous_series"]

_WEATHER_FILE = "seattle_weather.csv.gz"

_WEATHER_DESCR = """\
Seattle daily weather, 2012-2015
--------------------------------

Daily observations from the weather station at Seattle-Tacoma International
Airport, Washington, USA (GHCN-Daily station ``USW00024233``), from
2012-01-01 to 2015-12-31: 1461 consecutive days, one row per day, no gaps.

**Features** (float64, metric units)

- ``precipitation``: total precipitation of the day, in mm (GHCN ``PRCP``).
- ``temp_max``: maximum temperature of the day, in degrees C (``TMAX``).
- ``temp_min``: minimum temperature of the day, in degrees C (``TMIN``).
- ``wind``: average daily wind speed, in m/s (``AWND``).

**Missing values**: none. Every day of the period has a value for each of
the four features; the numbers are the raw station values converted from
tenths of a unit, with no gap filling, smoothing or outlier removal.
Precipitation is zero on 838 of the 1461 days (57%).

**Source**: U.S. National Oceanic and Atmospheric Administration (NOAA),
National Climatic Data Center (now National Centers for Environmental
Information, NCEI), Global Historical Climatology Network - Daily
(GHCN-Daily), station GHCND:USW00024233, SEATTLE TACOMA INTERNATIONAL
AIRPORT, WA US, elements PRCP, TMAX, TMIN and AWND, 2012-01-01 to
2015-12-31. The values were taken from the ``seattle-weather.csv`` file of
the Vega example data sets (``vega_datasets`` 0.9.0 on PyPI), which
converted them from tenths of a unit; its derived categorical ``weather``
column is not included.

**Licence**: public domain. The data are a work of the U.S. federal
government and are not subject to copyright in the United States.

**References**

- Menne, M. J., I. Durre, B. Korzeniewski, S. McNeal, K. Thomas, X. Yin,
  S. Anthony, R. Ray, R. S. Vose, B. E. Gleason and T. G. Houston (2012):
  Global Historical Climatology Network - Daily (GHCN-Daily), Version 3.
  NOAA National Climatic Data Center. doi:10.7289/V5D21VHZ
- Menne, M. J., I. Durre, R. S. Vose, B. E. Gleason and T. G. Houston
  (2012): An overview of the Global Historical Climatology Network-Daily
  database. Journal of Atmospheric and Oceanic Technology, 29, 897-910.
  doi:10.1175/JTECH-D-11-00103.1
"""

_DEFAULT_KINDS = ("spike", "level_shift", "noise_burst")

# Inclusive (min, max) number of consecutive rows of one event of each kind.
_EVENT_LENGTHS = {
    "spike": (1, 3),
    "level_shift": (5, 30),
    "noise_burst": (5, 30),
    "dropout": (5, 30),
}
_KINDS = tuple(_EVENT_LENGTHS)

# Inclusive range of the anomaly size, in standard deviations of the feature.
_MAGNITUDES = {
    "spike": (4.0, 8.0),
    "level_shift": (2.0, 4.0),
    "noise_burst": (2.0, 4.0),
}

# Anomalies start after this leading fraction of rows, so that a windowed
# model always sees some clean history before the first one.
_HISTORY_FRACTION = 0.1
_MIN_TIMESTEPS = 50
_N_SEASONAL_COMPONENTS = 2


def load_seattle_weather(*, as_frame=False):
    """Load the Seattle daily weather data set (2012-2015, 1461 days).

    Daily precipitation, maximum and minimum temperature and average wind
    speed measured at Seattle-Tacoma International Airport from 2012-01-01
    to 2015-12-31: a real, regular (one row per day) multivariate time
    series with no missing values, bundled with the package.

    Source: NOAA National Climatic Data Center (now NCEI), Global Historical
    Climatology Network - Daily (GHCN-Daily), station GHCND:USW00024233
    (SEATTLE TACOMA INTERNATIONAL AIRPORT, WA US), elements PRCP, TMAX, TMIN
    and AWND. Public domain (work of the U.S. federal government).

    ============  =====================
    Time steps    1461 (daily)
    Features      4
    Period        2012-01-01 - 2015-12-31
    Missing       none
    ============  =====================

    The values are the raw station numbers in metric units (mm, degrees C,
    m/s): no gap filling, smoothing or outlier removal was needed or done.
    The full description, with references, is in the ``DESCR`` attribute.

    Read more in the :ref:`User Guide <datasets>`.

    Parameters
    ----------
    as_frame : bool, default=False
        If True, ``data`` and ``frame`` are a :class:`pandas.DataFrame`
        indexed by date (requires pandas). If False, ``data`` is a NumPy
        array and ``frame`` is None.

    Returns
    -------
    data : :class:`~sklearn.utils.Bunch`
        Dictionary-like object with the following attributes.

        data : ndarray of shape (1461, 4) or DataFrame
            The features, one row per day, as float64.
        feature_names : ndarray of str of shape (4,)
            ``precipitation`` (mm), ``temp_max`` (degrees C), ``temp_min``
            (degrees C) and ``wind`` (m/s).
        index : ndarray of datetime64[D] of shape (1461,)
            The date of each row, increasing by one day.
        frame : DataFrame of shape (1461, 4) or None
            The features indexed by a daily ``DatetimeIndex`` named
            ``date``, only if ``as_frame=True``.
        DESCR : str
            Description of the data set: source, units, licence.

    See Also
    --------
    inject_anomalies : Add labelled anomalies to a series such as this one.
    make_anomalous_series : Synthetic series with labelled anomalies.

    Examples
    --------
    >>> from sklearn_lstm_reshape.datasets import load_seattle_weather
    >>> weather = load_seattle_weather()
    >>> weather.data.shape
    (1461, 4)
    >>> weather.feature_names.tolist()
    ['precipitation', 'temp_max', 'temp_min', 'wind']
    >>> weather.index[[0, -1]]
    array(['2012-01-01', '2015-12-31'], dtype='datetime64[D]')
    >>> weather.data[0]
    array([ 0. , 12.8,  5. ,  4.7])

    With pandas installed, the same data as a date-indexed DataFrame:

    >>> frame = load_seattle_weather(as_frame=True).frame
    >>> float(frame.loc["2012-01-02", "temp_max"])
    10.6
    """
    index, feature_names, values = _read_dated_csv(_WEATHER_FILE)
    frame = None
    data = values
    if as_frame:
        pd = _import_pandas("load_seattle_weather(as_frame=True)")
        frame = pd.DataFrame(
            values,
            columns=list(feature_names),
            index=pd.DatetimeIndex(index, name="date", freq="D"),
        )
        data = frame
    return Bunch(
        data=data,
        feature_names=feature_names,
        index=index,
        frame=frame,
        DESCR=_WEATHER_DESCR,
    )


def make_anomalous_series(
    n_timesteps=2000,
    n_features=3,
    *,
    anomaly_fraction=0.02,
    kinds=_DEFAULT_KINDS,
    noise=0.1,
    random_state=None,
):
    """Generate a seasonal multivariate series with labelled anomalies.

    Each feature is the sum of two sinusoids with random periods (15 to 120
    time steps), phases and amplitudes, mixed with the other features through
    a mild random coupling, plus Gaussian noise of standard deviation
    ``noise``. The clean series is then passed to :func:`inject_anomalies`,
    which adds the anomalies and records where they are.

    Read more in the :ref:`User Guide <datasets>`.

    Parameters
    ----------
    n_timesteps : int, default=2000
        Number of time steps (rows). At least 50.
    n_features : int, default=3
        Number of features (columns). At least 1.
    anomaly_fraction : float, default=0.02
        Approximate fraction of rows labelled anomalous, in (0, 0.5]. See
        :func:`inject_anomalies`.
    kinds : str or sequence of str, default=("spike", "level_shift", \
"noise_burst")
        Anomaly kinds to draw from, among ``"spike"``, ``"level_shift"``,
        ``"noise_burst"`` and ``"dropout"``. See :func:`inject_anomalies`.
    noise : float, default=0.1
        Standard deviation of the Gaussian noise of the clean series. The
        seasonal part has a standard deviation of about 0.8.
    random_state : int, RandomState instance or None, default=None
        Seed for the series and the anomalies. Pass an int for reproducible
        output across calls.

    Returns
    -------
    data : :class:`~sklearn.utils.Bunch`
        Same attributes as returned by :func:`inject_anomalies`: ``X``,
        ``X_clean``, ``labels``, ``mask`` and ``events``.

    See Also
    --------
    inject_anomalies : Add the same anomalies to a series of your own.
    load_seattle_weather : A real multivariate series.

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn_lstm_reshape.datasets import make_anomalous_series
    >>> series = make_anomalous_series(n_timesteps=500, n_features=2, random_state=0)
    >>> series.X.shape, series.mask.shape, series.labels.shape
    ((500, 2), (500, 2), (500,))
    >>> int(series.labels.sum())  # 2% of 500 rows
    10
    >>> bool(np.array_equal(series.X[~series.mask], series.X_clean[~series.mask]))
    True
    >>> min(start for start, stop, feature, kind in series.events) >= 50
    True
    """
    n_timesteps = _check_integer(
        "n_timesteps",
        n_timesteps,
        _MIN_TIMESTEPS,
        "A shorter series leaves too little room for anomalies after the "
        "clean history at its start; increase n_timesteps.",
    )
    n_features = _check_integer(
        "n_features", n_features, 1, "Pass the number of columns to generate."
    )
    if isinstance(noise, bool) or not isinstance(noise, numbers.Real) or not 0 <= noise < math.inf:
        raise ValueError(
            f"noise must be a finite number >= 0, got {noise!r}. It is the "
            "standard deviation of the Gaussian noise, e.g. noise=0.1."
        )
    rng = check_random_state(random_state)

    t = np.arange(n_timesteps, dtype=np.float64)[:, np.newaxis]
    seasonal = np.zeros((n_timesteps, n_features))
    for _ in range(_N_SEASONAL_COMPONENTS):
        period = rng.uniform(15.0, 120.0, size=n_features)
        phase = rng.uniform(0.0, 2.0 * np.pi, size=n_features)
        amplitude = rng.uniform(0.5, 1.0, size=n_features)
        seasonal += amplitude * np.sin(2.0 * np.pi * t / period + phase)
    coupling = rng.uniform(-0.2, 0.2, size=(n_features, n_features))
    np.fill_diagonal(coupling, 1.0)
    X_clean = seasonal @ coupling + noise * rng.standard_normal(seasonal.shape)

    return inject_anomalies(
        X_clean, anomaly_fraction=anomaly_fraction, kinds=kinds, random_state=rng
    )


def inject_anomalies(X, *, anomaly_fraction=0.02, kinds=_DEFAULT_KINDS, random_state=None):
    """Add labelled anomalies to a copy of a multivariate time series.

    Anomalies are events: each one affects a single feature over a run of
    consecutive rows. Events never share a row, and none starts in the first
    10% of the rows, so a windowed model always has clean history to learn
    from. Event lengths are drawn until ``round(anomaly_fraction *
    n_timesteps)`` rows (at least one) are covered; the last event is
    shortened if needed so that this count is met exactly. Magnitudes are
    relative to the standard deviation of each feature, so the same call
    works on standardised and on raw data.

    The kinds of anomaly are:

    - ``"spike"``: 1 to 3 rows offset by 4 to 8 standard deviations.
    - ``"level_shift"``: 5 to 30 rows offset by 2 to 4 standard deviations.
    - ``"noise_burst"``: 5 to 30 rows with added Gaussian noise of 2 to 4
      standard deviations.
    - ``"dropout"``: 5 to 30 rows frozen at the value just before the event,
      as from a stalled sensor or forward-filled gap.

    Each event draws its kind uniformly from ``kinds``, its feature
    uniformly from the columns of ``X`` and the sign of its offset at random.

    Read more in the :ref:`User Guide <datasets>`.

    Parameters
    ----------
    X : array-like of shape (n_timesteps, n_features)
        The clean series, one row per time step, with at least 50 rows and
        no missing values. It is never modified.
    anomaly_fraction : float, default=0.02
        Approximate fraction of rows labelled anomalous, in (0, 0.5].
    kinds : str or sequence of str, default=("spike", "level_shift", \
"noise_burst")
        Anomaly kinds to draw from, among ``"spike"``, ``"level_shift"``,
        ``"noise_burst"`` and ``"dropout"``.
    random_state : int, RandomState instance or None, default=None
        Seed for the anomalies. Pass an int for reproducible output across
        calls.

    Returns
    -------
    data : :class:`~sklearn.utils.Bunch`
        Dictionary-like object with the following attributes.

        X : ndarray of shape (n_timesteps, n_features)
            The series with the anomalies, as float64.
        X_clean : ndarray of shape (n_timesteps, n_features)
            A float64 copy of the input, before injection. ``X`` equals
            ``X_clean`` exactly wherever ``mask`` is False.
        labels : ndarray of bool of shape (n_timesteps,)
            True for each row where at least one feature is anomalous.
        mask : ndarray of bool of shape (n_timesteps, n_features)
            True for each anomalous cell.
        events : list of tuple
            One ``(start, stop, feature, kind)`` tuple per anomaly, sorted
            by ``start``: rows ``start:stop`` of column ``feature`` hold an
            anomaly of kind ``kind``.

    See Also
    --------
    make_anomalous_series : Synthetic seasonal series with anomalies.
    load_seattle_weather : A real series to inject anomalies into.

    Notes
    -----
    A ``"dropout"`` on a feature that is often constant (such as
    precipitation, zero on most days) can leave some of its cells equal to
    the clean values; they are still labelled anomalous.

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn_lstm_reshape.datasets import (
    ...     inject_anomalies, load_seattle_weather)
    >>> weather = load_seattle_weather()
    >>> result = inject_anomalies(weather.data, anomaly_fraction=0.05, random_state=0)
    >>> int(result.labels.sum())  # round(0.05 * 1461) rows
    73
    >>> bool(np.array_equal(result.X_clean, weather.data))
    True
    >>> start, stop, feature, kind = result.events[0]
    >>> bool(result.mask[start:stop, feature].all())
    True
    """
    X_clean = check_array(X, dtype=np.float64, copy=True, input_name="X")
    n_timesteps, n_features = X_clean.shape
    if n_timesteps < _MIN_TIMESTEPS:
        raise ValueError(
            f"X must have at least {_MIN_TIMESTEPS} rows (time steps), got "
            f"{n_timesteps}. A shorter series leaves too little room for "
            "anomalies after the clean history at its start; pass a longer "
            "series."
        )
    if (
        isinstance(anomaly_fraction, bool)
        or not isinstance(anomaly_fraction, numbers.Real)
        or not 0 < anomaly_fraction <= 0.5
    ):
        raise ValueError(
            f"anomaly_fraction must be a number in (0, 0.5], got "
            f"{anomaly_fraction!r}. It is the approximate fraction of rows "
            "labelled anomalous; typical values are 0.01 to 0.05."
        )
    kinds = _check_kinds(kinds)
    rng = check_random_state(random_state)

    events = _draw_events(n_timesteps, n_features, anomaly_fraction, kinds, rng)
    scale = X_clean.std(axis=0)
    scale[scale == 0] = 1.0  # a constant feature still gets visible anomalies
    X_anomalous = X_clean.copy()
    mask = np.zeros(X_clean.shape, dtype=bool)
    for start, stop, feature, kind in events:
        column = X_anomalous[:, feature]
        if kind == "dropout":
            column[start:stop] = column[start - 1]
        else:
            size = rng.uniform(*_MAGNITUDES[kind]) * scale[feature]
            if kind == "noise_burst":
                column[start:stop] += rng.normal(0.0, size, size=stop - start)
            else:
                column[start:stop] += rng.choice((-1.0, 1.0)) * size
        mask[start:stop, feature] = True

    return Bunch(
        X=X_anomalous,
        X_clean=X_clean,
        labels=mask.any(axis=1),
        mask=mask,
        events=events,
    )


def _draw_events(n_timesteps, n_features, anomaly_fraction, kinds, rng):
    """Draw non-overlapping ``(start, stop, feature, kind)`` events."""
    n_rows = max(1, round(anomaly_fraction * n_timesteps))
    chosen_kinds, lengths = [], []
    remaining = n_rows
    while remaining > 0:
        kind = kinds[rng.randint(len(kinds))]
        low, high = _EVENT_LENGTHS[kind]
        length = min(int(rng.randint(low, high + 1)), remaining)
        chosen_kinds.append(kind)
        lengths.append(length)
        remaining -= length

    # Sorted random offsets split the unused rows into gaps between the
    # events, which places them uniformly without overlap or retries.
    first = math.ceil(_HISTORY_FRACTION * n_timesteps)
    slack = n_timesteps - first - n_rows
    offsets = np.sort(rng.randint(0, slack + 1, size=len(lengths)))
    starts = first + offsets + np.cumsum([0, *lengths[:-1]])
    features = rng.randint(n_features, size=len(lengths))
    return [
        (int(start), int(start) + length, int(feature), kind)
        for start, length, feature, kind in zip(
            starts, lengths, features, chosen_kinds, strict=True
        )
    ]


def _check_kinds(kinds):
    """Return ``kinds`` as a non-empty tuple of known anomaly kinds."""
    if isinstance(kinds, str):
        kinds = (kinds,)
    kinds = tuple(kinds)
    valid = ", ".join(repr(kind) for kind in _KINDS)
    if not kinds:
        raise ValueError(
            f"kinds must name at least one anomaly kind, got an empty "
            f"sequence. Valid kinds are {valid}."
        )
    unknown = [kind for kind in kinds if kind not in _KINDS]
    if unknown:
        raise ValueError(
            f"kinds contains unknown anomaly kind(s) {unknown}. Valid kinds "
            f"are {valid}; pass a sequence of them, e.g. "
            "kinds=('spike', 'level_shift')."
        )
    return kinds


def _check_integer(name, value, minimum, hint):
    """Return ``value`` as an int, or raise if it is not an int >= minimum."""
    if isinstance(value, bool) or not isinstance(value, numbers.Integral) or value < minimum:
        raise ValueError(f"{name} must be an integer >= {minimum}, got {value!r}. {hint}")
    return int(value)


def _read_dated_csv(name):
    """Read a bundled gzipped CSV whose first column is an ISO date."""
    resource = files("sklearn_lstm_reshape") / "data" / name
    with resource.open("rb") as raw, gzip.open(raw, "rt", encoding="ascii") as f:
        header = f.readline().rstrip("\n").split(",")
        rows = [line.rstrip("\n").split(",") for line in f]
    index = np.array([row[0] for row in rows], dtype="datetime64[D]")
    values = np.array([row[1:] for row in rows], dtype=np.float64)
    return index, np.array(header[1:], dtype=object), values


def _import_pandas(caller):
    """Import pandas, or raise an ImportError that says how to get it."""
    try:
        import pandas as pd
    except ImportError as exc:
        raise ImportError(
            f"{caller} requires pandas, which is not installed. Install it "
            "with `pip install pandas`, or use as_frame=False to get NumPy "
            "arrays."
        ) from exc
    return pd
