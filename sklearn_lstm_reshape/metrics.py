"""Figures that say how good a counterfactual is, computable by any user.

Every function takes plain arrays: the original inputs ``X``, the
counterfactuals ``X_cf`` (both ``(n_samples, timesteps, n_features)``, or
``(n_samples, n_values)``), and the model's outputs on them. They are the
figures of the counterfactual literature for time series (validity,
proximity, sparsity, and plausibility as the local-outlier-factor outlier rate
of the Glacier protocol), and they are what
:meth:`~sklearn_lstm_reshape.CounterfactualReshaper.report` returns.
"""

import numpy as np
from sklearn.neighbors import LocalOutlierFactor, NearestNeighbors

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

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn_lstm_reshape.metrics import lof_outlier_rate
    >>> reference = np.random.default_rng(0).normal(size=(200, 5))
    >>> lof_outlier_rate(np.full((3, 5), 10.0), reference)
    1.0
    """
    outliers = _per_reference(
        X_cf, X_reference, target, reference_classes, lambda cf, ref: _lof(cf, ref, n_neighbors)
    )
    return float(np.mean(outliers))


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
                f"No reference window has class {label!r}, the target of "
                f"{mine.sum()} counterfactual(s); pass reference data of every "
                f"target class."
            )
        values[mine] = measure(X_cf[mine], reference)
    return values
