"""Figures that say how good a counterfactual or a generated set is,
computable by any user.

Every function takes plain arrays: windows or sequences of shape
``(n_samples, timesteps, n_features)`` (or ``(n_samples, n_values)``), and the
model's outputs on them.

- Counterfactuals (the original inputs ``X`` and the counterfactuals
  ``X_cf``): the figures of the counterfactual literature for time series
  (validity, proximity, sparsity, and plausibility as the
  local-outlier-factor outlier rate of the Glacier protocol), as
  :meth:`~sklearn_lstm_reshape.CounterfactualReshaper.report` returns them.
- Generated windows (``real`` and ``generated``): TimeGAN's discriminative
  and predictive scores, a stricter discriminative score by gradient
  boosting, diversity, and the gap between the model's prediction and the
  requested condition.
"""

import numpy as np
from scipy.spatial.distance import pdist
from sklearn.ensemble import HistGradientBoostingClassifier
from sklearn.model_selection import train_test_split
from sklearn.neighbors import LocalOutlierFactor, NearestNeighbors
from sklearn.utils import check_random_state

# Neighbours of the local outlier factor, as in scikit-learn's default.
LOF_NEIGHBORS = 20


def predicted_class(probabilities):
    """The class a probabilistic output predicts, per sample.

    Parameters
    ----------
    probabilities : array-like of shape (n_samples, n_classes) or (n_samples,)
        Class probabilities (a softmax), or the probability of class 1 of a
        single sigmoid output (shape ``(n_samples,)`` or ``(n_samples, 1)``).

    Returns
    -------
    classes : ndarray of int, shape (n_samples,)

    Examples
    --------
    >>> from sklearn_lstm_reshape.metrics import predicted_class
    >>> predicted_class([[0.2, 0.8], [0.9, 0.1]])
    array([1, 0])
    >>> predicted_class([0.7, 0.2])
    array([1, 0])
    """
    probabilities = np.asarray(probabilities)
    if probabilities.ndim == 1 or probabilities.shape[1] == 1:
        return (probabilities.reshape(-1) > 0.5).astype(int)
    return np.argmax(probabilities, axis=1)


def class_probability(probabilities, classes):
    """The probability each sample's output gives to ``classes`` (one per sample).

    Parameters
    ----------
    probabilities : array-like of shape (n_samples, n_classes) or (n_samples,)
        As for :func:`predicted_class`.
    classes : int or array-like of int, shape (n_samples,)
        The class whose probability to read, for every sample or per sample.

    Returns
    -------
    probability : ndarray of shape (n_samples,)

    Examples
    --------
    >>> from sklearn_lstm_reshape.metrics import class_probability
    >>> class_probability([[0.2, 0.8], [0.9, 0.1]], [1, 1])
    array([0.8, 0.1])
    """
    probabilities = np.asarray(probabilities, dtype=np.float64)
    classes = np.broadcast_to(np.asarray(classes), (len(probabilities),))
    if probabilities.ndim == 1 or probabilities.shape[1] == 1:
        one = probabilities.reshape(-1)
        return np.where(classes == 1, one, 1 - one)
    return probabilities[np.arange(len(probabilities)), classes]


def reached_target(predictions, target, *, tol=None, scale=1.0, min_probability=None):
    """Per sample, whether a counterfactual's prediction meets its target.

    For a classifier (``tol=None``), the predicted class must be the target
    class, and its probability at least ``min_probability`` when one is
    given. For a regressor or forecaster, every output must be within
    ``tol * scale`` of its target.

    Parameters
    ----------
    predictions : array-like of shape (n_samples, n_outputs)
        The model's outputs on the counterfactuals: class probabilities, or
        numbers.
    target : array-like
        Target class indices (an int, or one per sample), or target outputs
        broadcastable to ``predictions``.
    tol : float or None, default=None
        None for a classifier; else the tolerance of a regressor's target.
    scale : float or array-like, default=1.0
        The unit of ``tol``, per output (for example the standard deviation
        of the model's predictions).
    min_probability : float or None, default=None
        The least probability of the target class (classifiers only).

    Returns
    -------
    reached : ndarray of bool, shape (n_samples,)

    Examples
    --------
    >>> from sklearn_lstm_reshape.metrics import reached_target
    >>> reached_target([[0.3, 0.7], [0.6, 0.4]], 1)
    array([ True, False])
    >>> reached_target([[1.0], [1.5]], 1.1, tol=0.2)
    array([ True, False])
    """
    predictions = np.asarray(predictions, dtype=np.float64)
    if tol is None:
        classes = np.broadcast_to(np.asarray(target), (len(predictions),))
        reached = predicted_class(predictions) == classes
        if min_probability is not None:
            reached &= class_probability(predictions, classes) >= min_probability
        return reached
    flat = predictions.reshape(len(predictions), -1)
    target = np.asarray(target, dtype=np.float64)
    # One target per sample, or one broadcast to every sample.
    target = target.reshape(flat.shape if target.size == flat.size else -1)
    target = np.broadcast_to(target, flat.shape)
    scale = np.broadcast_to(np.asarray(scale, dtype=np.float64).reshape(-1), flat.shape[1:])
    return np.all(np.abs(flat - target) <= tol * scale, axis=1)


def proximity(X, X_cf, *, norm=2):
    """Mean distance from each input to its counterfactual.

    Parameters
    ----------
    X, X_cf : array-like of shape (n_samples, ...)
        The inputs and their counterfactuals.
    norm : {1, 2}, default=2
        L1 (sum of absolute changes) or L2 (Euclidean) distance, over all
        timesteps and features of a sample.

    Returns
    -------
    distance : float
        The mean over samples.

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn_lstm_reshape.metrics import proximity
    >>> proximity(np.zeros((2, 3, 1)), np.full((2, 3, 1), 2.0), norm=1)
    6.0
    """
    change = _flat(X_cf) - _flat(X)
    return float(np.mean(np.linalg.norm(change, ord=norm, axis=1)))


def changed_timesteps(X, X_cf, *, atol=0.0):
    """Mean fraction of each sample's timesteps that the counterfactual changes.

    A timestep counts as changed when any of its features moved by more
    than ``atol``. Lower is sparser.

    Parameters
    ----------
    X, X_cf : array-like of shape (n_samples, timesteps, n_features)
    atol : float, default=0.0

    Returns
    -------
    fraction : float

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn_lstm_reshape.metrics import changed_timesteps
    >>> X = np.zeros((1, 4, 2))
    >>> X_cf = X.copy()
    >>> X_cf[0, 1, 0] = 1.0
    >>> changed_timesteps(X, X_cf)
    0.25
    """
    X, X_cf = _panel(X), _panel(X_cf)
    return float(np.mean(np.any(np.abs(X_cf - X) > atol, axis=2)))


def lof_outlier_rate(X_cf, X_reference, *, target=None, reference_classes=None, n_neighbors=None):
    """Fraction of counterfactuals a local outlier factor calls outliers.

    The plausibility figure of the Glacier protocol: a
    :class:`~sklearn.neighbors.LocalOutlierFactor` in novelty mode is fitted
    on the reference windows (the training data), each counterfactual
    against those of its target class when classes are given, and the
    counterfactuals it predicts to be outliers are counted. Lower is more
    plausible; real data of the class scores about the LOF's own false alarm
    rate.

    Parameters
    ----------
    X_cf : array-like of shape (n_samples, ...)
        The counterfactuals.
    X_reference : array-like of shape (n_reference, ...)
        The data they should look like.
    target : int or array-like of shape (n_samples,), default=None
        Each counterfactual's target class; with ``reference_classes``.
    reference_classes : array-like of shape (n_reference,), default=None
        The class of each reference window (for example the model's
        predicted class). None judges every counterfactual against all of
        ``X_reference``.
    n_neighbors : int or None, default=None
        Neighbours of the LOF; None takes 20, or fewer for a small class.

    Returns
    -------
    rate : float

    See Also
    --------
    lof_outliers : Which counterfactuals are the outliers.

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn_lstm_reshape.metrics import lof_outlier_rate
    >>> reference = np.random.default_rng(0).normal(size=(200, 5))
    >>> lof_outlier_rate(np.full((3, 5), 10.0), reference)
    1.0
    """
    outliers = lof_outliers(
        X_cf,
        X_reference,
        target=target,
        reference_classes=reference_classes,
        n_neighbors=n_neighbors,
    )
    return float(np.mean(outliers))


def lof_outliers(X_cf, X_reference, *, target=None, reference_classes=None, n_neighbors=None):
    """Whether a local outlier factor calls each counterfactual an outlier.

    The per-sample flags behind :func:`lof_outlier_rate`.

    Parameters
    ----------
    X_cf : array-like of shape (n_samples, ...)
    X_reference : array-like of shape (n_reference, ...)
    target : int or array-like of shape (n_samples,), default=None
    reference_classes : array-like of shape (n_reference,), default=None
    n_neighbors : int or None, default=None
        See :func:`lof_outlier_rate`.

    Returns
    -------
    outliers : ndarray of bool, shape (n_samples,)

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn_lstm_reshape.metrics import lof_outliers
    >>> reference = np.random.default_rng(0).normal(size=(200, 5))
    >>> lof_outliers(np.array([[0.0] * 5, [10.0] * 5]), reference).tolist()
    [False, True]
    """
    flags = _per_reference(
        X_cf, X_reference, target, reference_classes, lambda cf, ref: _lof(cf, ref, n_neighbors)
    )
    return flags.astype(bool)


def nearest_reference_distance(X_cf, X_reference, *, target=None, reference_classes=None):
    """Mean Euclidean distance from each counterfactual to its nearest reference window.

    With classes, the nearest window of the counterfactual's target class: a
    second plausibility figure, in the units of the data.

    Parameters
    ----------
    X_cf : array-like of shape (n_samples, ...)
    X_reference : array-like of shape (n_reference, ...)
    target : int or array-like of shape (n_samples,), default=None
    reference_classes : array-like of shape (n_reference,), default=None
        See :func:`lof_outlier_rate`.

    Returns
    -------
    distance : float

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn_lstm_reshape.metrics import nearest_reference_distance
    >>> nearest_reference_distance(np.zeros((1, 2)), np.array([[3.0, 4.0], [6.0, 8.0]]))
    5.0
    """

    def nearest(cf, ref):
        return NearestNeighbors(n_neighbors=1).fit(ref).kneighbors(cf)[0][:, 0]

    return float(np.mean(_per_reference(X_cf, X_reference, target, reference_classes, nearest)))


# -- generated windows ---------------------------------------------------------


def discriminative_score(
    real, generated, *, classifier="gru", test_size=0.2, iterations=2000, random_state=None
):
    """How well a classifier tells generated windows from real ones: ``|accuracy - 0.5|``.

    A classifier is trained on ``1 - test_size`` of each set to tell them
    apart, and its accuracy is measured on the rest. 0 means it does no
    better than a coin (the generated windows pass for real); 0.5 means it
    never errs.

    Parameters
    ----------
    real, generated : array-like of shape (n_samples, timesteps, n_features)
        Windows (or sequences); a 2-D array is one feature per timestep.
    classifier : {"gru", "boosting"}, default="gru"
        ``"gru"``: TimeGAN's post-hoc classifier (Yoon et al. 2019), a
        one-layer Keras GRU with ``max(1, n_features // 2)`` units and a
        logistic output on its last state, trained by Adam on batches of 128
        for ``iterations`` steps. Values already in [0, 1] are taken as given,
        as TimeGAN's data are; others are min-max scaled by the real
        windows' range per feature. ``"boosting"``: scikit-learn's
        :class:`~sklearn.ensemble.HistGradientBoostingClassifier` on the
        flattened windows, which also sees the joint distribution of the
        values, and is usually stricter.
    test_size : float, default=0.2
        Share of each set held out to measure the accuracy.
    iterations : int, default=2000
        Training steps of the GRU (TimeGAN's 2000); ignored by boosting.
    random_state : int, RandomState instance or None, default=None
        Seeds the split and the classifier.

    Returns
    -------
    score : float in [0, 0.5]

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn_lstm_reshape.metrics import discriminative_score
    >>> rng = np.random.RandomState(0)
    >>> real = rng.normal(size=(200, 8, 2))
    >>> discriminative_score(real, real + 3, classifier="boosting", random_state=0)
    0.5
    """
    real, generated = _panel(real), _panel(generated)
    _check_like(real, generated)
    rng = check_random_state(random_state)
    windows = np.concatenate([real, generated])
    labels = np.r_[np.ones(len(real)), np.zeros(len(generated))]
    train, test, y_train, y_test = train_test_split(
        windows, labels, test_size=test_size, stratify=labels, random_state=rng
    )
    if classifier == "boosting":
        model = HistGradientBoostingClassifier(random_state=rng.randint(2**31 - 1))
        model.fit(train.reshape(len(train), -1), y_train)
        accuracy = model.score(test.reshape(len(test), -1), y_test)
    elif classifier == "gru":
        train, test = _unit_scaled(real, train, test)
        model = _post_hoc_gru(real.shape[1:], 1, "sigmoid", rng)
        _fit_steps(model, train, y_train, "binary_crossentropy", iterations, rng)
        says_real = _keras_predict(model, test)[:, 0] > 0.5
        accuracy = float(np.mean(says_real == (y_test > 0.5)))
    else:
        raise ValueError(f"classifier must be 'gru' or 'boosting'; got {classifier!r}.")
    return float(abs(accuracy - 0.5))


def predictive_score(real, generated, *, iterations=5000, random_state=None):
    """TimeGAN's predictive score: train on generated, test on real (lower is better).

    As Yoon et al. (2019) define it: a one-layer Keras GRU with
    ``max(1, n_features // 2)`` units is trained on the generated windows to
    predict, at every timestep, the next value of the last feature from the
    other features up to then; its mean absolute error is then measured on
    the real windows. Values already in [0, 1] are taken as given (TimeGAN
    scales its data so when loading them, and its sines lie in [0.5, 1]);
    others are min-max scaled by the real windows' range per feature, so the
    score is in units of that range. With one feature the
    GRU predicts it from its own past values. Generated windows that keep the
    real ones' temporal dynamics give an error close to that of a GRU trained
    on real data.

    Parameters
    ----------
    real, generated : array-like of shape (n_samples, timesteps, n_features)
    iterations : int, default=5000
        Training steps (batches of 128), TimeGAN's 5000.
    random_state : int, RandomState instance or None, default=None

    Returns
    -------
    score : float
        Mean absolute error on the real windows.
    """
    real, generated = _panel(real), _panel(generated)
    _check_like(real, generated)
    rng = check_random_state(random_state)
    real, generated = _unit_scaled(real, real, generated)
    inputs = slice(None, -1) if real.shape[2] > 1 else slice(None)

    def split(windows):
        return windows[:, :-1, inputs], windows[:, 1:, -1:]

    X_generated, y_generated = split(generated)
    # TimeGAN's units: half of all the features, the predicted one included.
    units = max(1, real.shape[2] // 2)
    model = _post_hoc_gru(X_generated.shape[1:], 1, "sigmoid", rng, sequences=True, units=units)
    _fit_steps(model, X_generated, y_generated, "mean_absolute_error", iterations, rng)
    X_real, y_real = split(real)
    return float(np.mean(np.abs(_keras_predict(model, X_real) - y_real)))


def diversity(real, generated, *, max_samples=1000, random_state=None):
    """Mean pairwise distance of generated windows ÷ that of real ones.

    Distances are Euclidean over the whole window, each feature in units of
    its standard deviation in ``real``. 1 means the generated set is as
    varied as the real one; a generator that collapses to a few windows
    scores near 0.

    Parameters
    ----------
    real, generated : array-like of shape (n_samples, timesteps, n_features)
    max_samples : int, default=1000
        Each set is subsampled to at most this many windows (pairs grow with
        the square).
    random_state : int, RandomState instance or None, default=None
        Seeds the subsampling.

    Returns
    -------
    ratio : float

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn_lstm_reshape.metrics import diversity
    >>> rng = np.random.RandomState(0)
    >>> real = rng.normal(size=(300, 8, 2))
    >>> round(diversity(real, 0.5 * rng.normal(size=(300, 8, 2)), random_state=0), 1)
    0.5
    """
    real, generated = _panel(real), _panel(generated)
    _check_like(real, generated)
    rng = check_random_state(random_state)
    std = real.reshape(-1, real.shape[2]).std(axis=0)
    std = np.where(std > 0, std, 1.0)

    def spread(windows):
        if len(windows) > max_samples:
            windows = windows[rng.choice(len(windows), max_samples, replace=False)]
        return np.mean(pdist((windows / std).reshape(len(windows), -1)))

    real_spread = spread(real)
    if real_spread == 0:
        raise ValueError("The real windows are all identical; diversity needs varied real data.")
    return float(spread(generated) / real_spread)


def condition_gap(predictions, requested, *, scale=1.0):
    """Mean ``|prediction - requested| / scale``, per output and overall.

    The miss of the model's prediction on generated windows from the
    condition they were generated under, in units of ``scale`` (for
    example the standard deviation of the model's predictions on real data).

    Parameters
    ----------
    predictions, requested : array-like of shape (n_samples, ...)
    scale : float or array-like broadcastable to one prediction, default=1.0

    Returns
    -------
    gap : float
        The mean over samples and outputs.
    gap_by_output : ndarray of one prediction's shape
        The mean over samples, per output.

    Examples
    --------
    >>> from sklearn_lstm_reshape.metrics import condition_gap
    >>> condition_gap([[1.0, 2.0], [3.0, 4.0]], [[1.0, 1.0], [3.0, 3.0]], scale=2.0)
    (0.25, array([0. , 0.5]))
    """
    gaps = np.abs(np.asarray(predictions, float) - np.asarray(requested, float))
    by_output = np.mean(gaps / np.asarray(scale, float), axis=0)
    return float(by_output.mean()), by_output


# -- helpers -------------------------------------------------------------------


def _flat(X):
    X = np.asarray(X, dtype=np.float64)
    return X.reshape(len(X), -1)


def _panel(X):
    X = np.asarray(X, dtype=np.float64)
    return X[..., None] if X.ndim == 2 else X  # (n_samples, timesteps): one feature


def _lof(cf, reference, n_neighbors):
    neighbors = min(n_neighbors or LOF_NEIGHBORS, len(reference) - 1)
    if neighbors < 1:
        raise ValueError(
            f"The local outlier factor needs at least 2 reference windows; got "
            f"{len(reference)}. Pass more reference data for this class."
        )
    lof = LocalOutlierFactor(n_neighbors=neighbors, novelty=True).fit(reference)
    return lof.predict(cf) == -1


def _per_reference(X_cf, X_reference, target, reference_classes, measure):
    """``measure(counterfactuals, reference)`` per sample, each against the
    reference windows of its target class when classes are given."""
    X_cf, X_reference = _flat(X_cf), _flat(X_reference)
    if X_cf.shape[1] != X_reference.shape[1]:
        raise ValueError(
            f"X_cf has {X_cf.shape[1]} values per sample and X_reference "
            f"{X_reference.shape[1]}; pass reference windows shaped like the "
            f"counterfactuals."
        )
    if reference_classes is None:
        return measure(X_cf, X_reference)
    if target is None:
        raise ValueError("reference_classes needs target: the class of each counterfactual.")
    reference_classes = np.asarray(reference_classes)
    target = np.broadcast_to(np.asarray(target), (len(X_cf),))
    values = np.empty(len(X_cf))
    for label in np.unique(target):
        mine = target == label
        reference = X_reference[reference_classes == label]
        if not len(reference):
            raise ValueError(
                f"No reference window has class {label.item()!r}, the target of "
                f"{mine.sum()} counterfactual(s); pass reference data of every "
                f"target class."
            )
        values[mine] = measure(X_cf[mine], reference)
    return values


def _check_like(real, generated):
    if real.shape[1:] != generated.shape[1:]:
        raise ValueError(
            f"real windows have shape {real.shape[1:]} and generated ones "
            f"{generated.shape[1:]}; pass windows of the same length and features."
        )
    if len(real) < 2 or len(generated) < 2:
        raise ValueError(
            f"Need at least 2 real and 2 generated windows; got {len(real)} and {len(generated)}."
        )


def _unit_scaled(real, *arrays):
    """``arrays`` as given when ``real`` lies in [0, 1] (TimeGAN's convention),
    else min-max scaled by ``real``'s range per feature (a width of 0 counts as 1)."""
    rows = real.reshape(-1, real.shape[2])
    low, high = rows.min(axis=0), rows.max(axis=0)
    if low.min() >= 0 and high.max() <= 1:
        return arrays
    width = high - low
    width = np.where(width > 0, width, 1.0)
    return tuple((values - low) / width for values in arrays)


def _post_hoc_gru(input_shape, n_outputs, activation, rng, sequences=False, units=None):
    """TimeGAN's post-hoc network: a GRU of half the features' units (or
    ``units``) and a dense output."""
    from . import _keras

    keras = _keras.import_keras()
    with _keras.seeded(int(rng.randint(2**31 - 1))):
        inputs = keras.Input(input_shape)
        if units is None:
            units = max(1, input_shape[-1] // 2)
        hidden = keras.layers.GRU(units, return_sequences=sequences)(inputs)
        outputs = keras.layers.Dense(n_outputs, activation=activation)(hidden)
        return keras.Model(inputs, outputs)


def _fit_steps(model, inputs, targets, loss, iterations, rng, batch_size=128):
    """Train ``model`` by Adam for about ``iterations`` steps on shuffled batches
    (TimeGAN draws each batch at random: the same in expectation)."""
    from . import _keras

    keras = _keras.import_keras()
    inputs, targets = np.asarray(inputs, np.float32), np.asarray(targets, np.float32)
    batch = min(batch_size, len(inputs))
    epochs = max(1, round(iterations / -(-len(inputs) // batch)))
    model.compile(optimizer=keras.optimizers.Adam(), loss=loss)
    with _keras.seeded(int(rng.randint(2**31 - 1))):
        model.fit(inputs, targets, batch_size=batch, epochs=epochs, shuffle=True, verbose=0)


def _keras_predict(model, inputs):
    from . import _predict

    return _predict.predict_windows(model, np.asarray(inputs, np.float32), batch_size=4096)
