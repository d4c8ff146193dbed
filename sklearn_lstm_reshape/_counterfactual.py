"""CounterfactualReshaper: the nearest X for which the wrapped model predicts a target.

A panel (or the windows of a series through a classifier) is searched
instance by instance in three steps: a start that already meets the target
(the nearest unlike neighbour among the training data, and the shortest
segment of it that, swapped into the instance, flips the prediction, chosen
by the model's gradient saliency as Native Guide does), then a gradient
refinement that pulls the changed values back toward the instance while the
target stays met, then a check with the model itself, which keeps the start
for any instance the refinement lost. A 2-D series is searched as rows, its
windows cut inside the loss, so that the returned series is the searched one.
"""

import time
from dataclasses import replace
from numbers import Integral, Real

import numpy as np

from . import _dask, _keras, metrics
from ._base import DEFAULT_WINDOW, BaseReshaper, RangeBoundMixin, _short, moved
from ._latent import LatentReshaper, _scale
from ._optimize import Objective, engine_targets, optimize_toward, search_series
from .utils._docstrings import fill_doc
from .utils._sklearn_compat import Interval, StrOptions

# Instances searched together: bounds the candidate swaps held at once.
_INSTANCES_PER_BATCH = 64
# Segment positions tried per segment length, the most salient first (with
# 3, the counterfactuals changed 20-56 % more timesteps on BasicMotions and
# GunPoint than with 16).
_SWAP_POSITIONS = 16
# Segment lengths tried at once, and bytes of candidate swaps held at once.
_LENGTHS_AT_ONCE, _SWAP_BYTES = 8, 64 * 2**20
# Above this many timesteps, segment lengths are tried on a geometric grid.
_ALL_LENGTHS_UP_TO = 64
# Reference windows the report's plausibility figures compare against.
_MAX_REFERENCE = 4000
# Most gradient steps of one search with steps="auto". A series is searched
# as one point whose windows share rows: its search needs many more steps
# than a window's (measured on the bundled weather: 0.53 of the windows
# reached after 100 steps, 0.9 after about 1000).
_PANEL_STEPS, _SERIES_STEPS = 100, 2000
# How much more a result that is an outlier of its target's reference is
# pulled toward its unlike neighbour when it is searched again.
_PLAUSIBILITY_BOOST = 10.0


@fill_doc
class CounterfactualReshaper(RangeBoundMixin, BaseReshaper):
    """The nearest X for which the wrapped model predicts a target: counterfactuals.

    For a classifier (a model whose last layer applies ``softmax`` or
    ``sigmoid``) the target is a class, by default the most probable other
    class of each instance; for a regressor or forecaster it is a number per
    output, by default the prediction plus one standard deviation. Each
    instance of a 3-D panel is searched on its own; a 2-D series is searched
    as a whole, its rows changed so that the windows ending at ``rows`` get
    the target while the other windows keep their predictions.

    Read more in the :ref:`User Guide <counterfactual>`.

    Parameters
    ----------
    {{model}}

    target : int, float, array-like or callable, default=None
        What the model should predict. For a classifier: a class index, one
        per instance, or a callable mapping the predicted probabilities to
        class indices; None takes each instance's most probable other
        class. For a regressor: a number, an array broadcastable to one
        prediction, or a callable mapping the predictions to targets (e.g.
        ``lambda p: p + 1``); None takes each prediction plus one standard
        deviation of the predictions seen in ``fit``.

    space : {"input", "latent"}, default="input"
        Where the refinement searches: the values of X, or the code of an
        LSTM autoencoder trained in ``fit`` (whose decoded change is added
        to X). The latent search keeps its start for an instance it cannot
        bring to the target (``report`` counts them), and its decoded
        result is clipped to ``bounds``.

    start : {"swap", "neighbour", "input"}, default="swap"
        Where a panel's search starts: the shortest segment of the nearest
        unlike neighbour that flips the prediction when swapped in (the
        gradient saliency of the model chooses where), the neighbour
        itself, or the instance (a plain gradient search). An instance
        with no training sequence meeting its target starts from itself. A
        2-D series always starts from itself.

    rows : array-like of int or bool, or None, default=None
        For a 2-D series: the rows whose windows (the window ending at the
        row) must reach the target; every other window is held at its own
        prediction. None requests every window. Ignored for a panel.

    steps : int or "auto", default="auto"
        Most gradient steps of each search; 0 returns the starts. "auto":
        100 for a panel, 2000 for a 2-D series, whose windows share rows
        and are searched together. A search stops sooner once it has
        converged.

    learning_rate : float, default=0.05
        Adam's learning rate of the refinement, in standard deviations of
        the features (or of the codes) per step.

    proximity : float, default=1.0
        Weight of the mean squared change (in standard deviations of the
        features) in the refinement's loss.

    sparsity : float, default=0.1
        Weight of the mean length of each timestep's change: favours
        changing few timesteps.

    plausibility : float, default=1.0
        Weight of the mean squared distance from the nearest unlike
        neighbour: keeps the result near real data of the target. Lower
        values give a smaller change and more outliers of the target class
        (see ``benchmarks/bench_counterfactual.py``). When it is above 0, a
        panel's result that the local outlier factor of ``report`` calls an
        outlier is searched again nearer the neighbour, or replaced by the
        shortest swap that is no outlier; 0 turns that off.

    {{bounds written="of a counterfactual"}}

    tol : float, default=0.1
        A regressor's target is met when every output is within ``tol``
        standard deviations of its predictions seen in ``fit``.

    min_probability : float or None, default=None
        A classifier's target is met when its class is the most probable,
        with at least this probability when one is given.

    autoencoder : (keras.Model, keras.Model) or None, default=None
        A fitted ``(encoder, decoder)`` pair for ``space="latent"``; None
        trains one on X in ``fit`` then (see
        :func:`~sklearn_lstm_reshape.models.train_autoencoder`). Unused with
        ``space="input"``.

    {{window}}

    latent_dim : int, default=8
        Code size of the autoencoder trained for ``space="latent"``.

    {{units}}

    {{epochs default=30 network="autoencoder"}}

    {{batch_size network="autoencoder"}}

    {{predict_batch_size}}

    {{verbose}}

    {{random_state draws=""}}

    Attributes
    ----------
    {{fitted_model}}

    {{window_}}

    classes_ : ndarray of int or None
        The classes of a classifier (``arange(n_outputs)``, or ``[0, 1]``
        for one sigmoid output); None for a regressor.

    feature_scale_ : ndarray of shape (`n_features_in_`,)
        Standard deviation of each feature in ``fit``: the unit of the
        search's steps and distances.

    prediction_scale_ : ndarray of shape (n_outputs,) or None
        Standard deviation of each output of a regressor in ``fit``: the
        unit of ``tol``. None for a classifier.

    reference_ : ndarray of shape (n_reference, timesteps, n_features)
        The training sequences (or, for a series, up to 4,000 of its
        windows, evenly spaced): where the unlike neighbours come from, and
        what the report's plausibility is measured against.

    reference_predictions_ : ndarray of shape (n_reference, n_outputs)
        The model's outputs on ``reference_``.

    encoder_, decoder_ : keras.Model or None
        The autoencoder of ``space="latent"``.

    code_scale_ : ndarray of shape (latent_dim,) or None
        Standard deviation of each code dimension over the training windows.

    data_min_, data_max_ : ndarray of shape (`n_features_in_`,)
        Each feature's range in ``fit``: the bounds of ``bounds="training"``.

    {{n_features_in_}}

    See Also
    --------
    LatentReshaper : Edit X in an autoencoder's latent space.
    sklearn_lstm_reshape.metrics : The figures of :meth:`report`.

    Notes
    -----
    ``report(X)`` runs the model again on the result and returns a dict:

    - ``validity``: the fraction of instances (a series: of requested
      windows) whose prediction meets the target; ``validity_before`` the
      same on X, and ``searched_validity`` the fraction the search found
      (for a series, before the model is run on the returned rows);
    - ``l1``, ``l2``: mean L1 and L2 distance from each instance (each
      requested window of a series) to its counterfactual;
    - ``changed_timesteps``: mean fraction of each instance's timesteps
      that changed;
    - ``lof_outlier_rate``: the fraction of counterfactuals a local outlier
      factor fitted on ``reference_`` (for a classifier, on the sequences of
      the target class) calls outliers, and ``nearest_reference_distance``
      the mean distance to the nearest of them (None where a class has
      fewer than two reference sequences);
    - ``seconds_per_instance``: the search's time;
    - ``reconstruction_error``: with ``space="latent"``, the autoencoder's
      mean absolute reconstruction error on the counterfactuals (None
      otherwise), and ``latent_fallbacks``, the instances that kept their
      start;
    - ``targets``, ``predictions_before``, ``predictions_after``.

    For a series, the figures are taken over requested windows (up to
    4,000, evenly spaced, for the plausibility figures).

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn_lstm_reshape import CounterfactualReshaper
    >>> from sklearn_lstm_reshape._keras import import_keras
    >>> keras = import_keras()
    >>> keras.utils.set_random_seed(0)
    >>> X = np.random.default_rng(0).normal(size=(40, 10, 1)).astype("float32")
    >>> classifier = keras.Sequential([keras.Input((10, 1)), keras.layers.LSTM(4),
    ...                                keras.layers.Dense(2, activation="softmax")])
    >>> cf = CounterfactualReshaper(classifier, steps=10).fit(X)
    >>> cf.report(X[:5])["validity"]
    1.0
    """

    _parameter_constraints: dict = {
        **BaseReshaper._parameter_constraints,
        "target": [None, Real, "array-like", callable],
        "space": [StrOptions({"input", "latent"})],
        "start": [StrOptions({"swap", "neighbour", "input"})],
        "rows": [None, "array-like"],
        "steps": [Interval(Integral, 0, None, closed="left"), StrOptions({"auto"})],
        "learning_rate": [Interval(Real, 0, None, closed="neither")],
        "proximity": [Interval(Real, 0, None, closed="left")],
        "sparsity": [Interval(Real, 0, None, closed="left")],
        "plausibility": [Interval(Real, 0, None, closed="left")],
        "bounds": [StrOptions({"training"}), tuple, list, None],
        "tol": [Interval(Real, 0, None, closed="neither")],
        "min_probability": [None, Interval(Real, 0, 1, closed="neither")],
        "autoencoder": [None, tuple, list],
        "latent_dim": [Interval(Integral, 1, None, closed="left")],
        "batch_size": [Interval(Integral, 1, None, closed="left")],
    }
    _frozen_params = ("model", "autoencoder")
    _transform_params = (
        *BaseReshaper._transform_params,
        "target",
        "start",
        "rows",
        "steps",
        "learning_rate",
        "proximity",
        "sparsity",
        "plausibility",
        "bounds",
        "tol",
        "min_probability",
    )

    def __init__(
        self,
        model=None,
        *,
        target=None,
        space="input",
        start="swap",
        rows=None,
        steps="auto",
        learning_rate=0.05,
        proximity=1.0,
        sparsity=0.1,
        plausibility=1.0,
        bounds="training",
        tol=0.1,
        min_probability=None,
        autoencoder=None,
        window=None,
        latent_dim=8,
        units=32,
        epochs=30,
        batch_size=64,
        predict_batch_size=4096,
        verbose=0,
        random_state=None,
    ):
        self.model = model
        self.target = target
        self.space = space
        self.start = start
        self.rows = rows
        self.steps = steps
        self.learning_rate = learning_rate
        self.proximity = proximity
        self.sparsity = sparsity
        self.plausibility = plausibility
        self.bounds = bounds
        self.tol = tol
        self.min_probability = min_probability
        self.autoencoder = autoencoder
        self.window = window
        self.latent_dim = latent_dim
        self.units = units
        self.epochs = epochs
        self.batch_size = batch_size
        self.predict_batch_size = predict_batch_size
        self.verbose = verbose
        self.random_state = random_state

    def score(self, X, y=None):
        """Validity minus the size of the change: higher is better.

        The fraction of instances (requested windows of a series) whose
        counterfactual meets the target, minus the root mean square change
        in standard deviations of the features (the mean over instances).
        A search that always succeeds with no change would score 1.

        Parameters
        ----------
        X : array-like of shape (n_timesteps, n_features) or (n_sequences, timesteps, n_features)
            One series, or a panel of sequences, shaped like the data seen in
            ``fit``.
        y : None
            Ignored.

        Returns
        -------
        score : float
        """
        _dask.refuse_in(
            self, "score", X, "score a part of it in memory, such as X[:100_000].compute()"
        )
        X, predictions = self._prepare(X)
        details = {}
        X_new = self._edit(X, predictions, details)
        inputs, outputs = self._instances(X, X_new, details["requested"])
        change = (outputs - inputs) / self.feature_scale_
        rms = np.sqrt(np.mean(np.square(change.reshape(len(change), -1)), axis=1))
        return float(details["reached"].mean() - rms.mean())

    # -- the strategy's hooks ----------------------------------------------------

    def _resolve(self, X):
        n_outputs = int(np.prod(_keras.model_output_shape(self.model_, self._input_shape(X))))
        self.classes_ = _keras.model_classes(self.model_, n_outputs)

    def _chunk_overlap(self, method, ndim):
        raise ValueError(
            "CounterfactualReshaper does not compute chunk by chunk: its searches "
            "stop by batches of instances, and a series' rows are searched in turn, "
            "each block from the rows the block before it moved. Compute the "
            "instances you want counterfactuals of in memory (X.compute())."
        )

    def _check_settings(self):
        if self.min_probability is not None and getattr(self, "classes_", 1) is None:
            raise ValueError(
                f"min_probability={self.min_probability} applies to a classifier, but "
                f"the model's last layer applies no softmax or sigmoid, so its target "
                f"is numbers. Use tol= for a regressor's target, or leave "
                f"min_probability=None."
            )
        self._check_bounds()

    def _fit_strategy(self, X, predictions):
        predictions = _flat(predictions)
        rows = X.reshape(-1, X.shape[-1])
        self.feature_scale_ = _scale(rows)
        self.data_min_, self.data_max_ = rows.min(axis=0), rows.max(axis=0)
        self.prediction_scale_ = None if self.classes_ is not None else _scale(predictions)
        windows = self._windows(X)
        keep = np.unique(np.linspace(0, len(windows) - 1, _MAX_REFERENCE).astype(int))
        if X.ndim == 3 or len(windows) <= _MAX_REFERENCE:
            keep = slice(None)
        self.reference_ = np.array(windows[keep], dtype=np.float32)
        self.reference_predictions_ = predictions[keep]
        self.encoder_ = self.decoder_ = self.code_scale_ = None
        if self.space == "latent":
            self.encoder_, self.decoder_ = self._fit_autoencoder(windows)
            self.code_scale_ = _scale(self._predict_windows(self.encoder_, self.reference_))

    def _edit(self, X, predictions, details):
        began = time.perf_counter()
        if X.ndim == 2:
            X_new, requested, searched = self._edit_series(X, predictions)
            fallbacks = 0
        else:
            X_new, searched, fallbacks = self._edit_panel(X, predictions)
            requested = None
        X_new = self._kept_in_bounds(X, X_new)  # the float32 search may round past a bound
        if details is not None:
            n_instances = len(X) if requested is None else int(requested.sum())
            details.update(
                requested=requested,
                reached=searched,
                fallbacks=fallbacks,
                seconds=(time.perf_counter() - began) / max(n_instances, 1),
            )
        return X_new

    def _report(self, X, X_new, predictions, details):
        requested = details["requested"]
        inputs, outputs = self._instances(X, X_new, requested)
        before = _flat(predictions)
        after = _flat(self._predict(X_new))
        targets = self._targets(before)
        if requested is not None:
            before, after, targets = before[requested], after[requested], targets[requested]
        plausible = self._plausibility(outputs, targets)
        return {
            "validity": float(self._reached(after, targets).mean()),
            "validity_before": float(self._reached(before, targets).mean()),
            "searched_validity": float(details["reached"].mean()),
            "l1": metrics.proximity(inputs, outputs, norm=1),
            "l2": metrics.proximity(inputs, outputs, norm=2),
            "changed_timesteps": metrics.changed_timesteps(inputs, outputs),
            "lof_outlier_rate": plausible[0],
            "nearest_reference_distance": plausible[1],
            "seconds_per_instance": details["seconds"],
            "reconstruction_error": self._reconstruction_error(outputs),
            "latent_fallbacks": details["fallbacks"] if self.space == "latent" else None,
            "targets": targets,
            "predictions_before": before,
            "predictions_after": after,
        }

    # -- targets -----------------------------------------------------------------

    def _targets(self, predictions):
        """The target of each window: a class index, or the flattened outputs."""
        if self.classes_ is None:
            if self.target is None:
                return predictions + self.prediction_scale_
            return _flat(self._broadcast_request(self.target, predictions, "target"))
        n_classes = len(self.classes_)
        if self.target is None:
            return _runner_up(predictions)
        target = self.target(predictions.copy()) if callable(self.target) else self.target
        target = np.asarray(target)
        if not np.issubdtype(target.dtype, np.number) or np.any(target != np.round(target)):
            raise ValueError(
                f"target must give class indices for a classifier; got {_short(target)}. "
                f"Pass an int in [0, {n_classes}), one per instance, or None for each "
                f"instance's most probable other class."
            )
        try:
            target = np.broadcast_to(target.astype(int), (len(predictions),))
        except ValueError:
            raise ValueError(
                f"target gives {target.size} class indices for {len(predictions)} "
                f"instances (windows); pass one int, or one per instance."
            ) from None
        if target.min() < 0 or target.max() >= n_classes:
            wrong = target.max() if target.max() >= n_classes else target.min()
            raise ValueError(
                f"target holds class {wrong}, "
                f"but the model has {n_classes} classes (0 to {n_classes - 1}). Pass a "
                f"class index the model can predict."
            )
        return target

    def _reached(self, predictions, targets):
        if self.classes_ is None:
            return metrics.reached_target(
                predictions, targets, tol=self.tol, scale=self.prediction_scale_
            )
        return metrics.reached_target(predictions, targets, min_probability=self.min_probability)

    def _max_steps(self, series=False):
        if self.steps != "auto":
            return self.steps
        return _SERIES_STEPS if series else _PANEL_STEPS

    def _search_targets(self, targets):
        return engine_targets(targets, None if self.classes_ is None else len(self.classes_))

    def _objective(self, keep, plausibility=0.0):
        classes = self.classes_ is not None
        return Objective(
            classes=classes,
            binary=classes and self._n_outputs() == 1,
            keep=keep,
            proximity=self.proximity,
            sparsity=self.sparsity,
            plausibility=plausibility,
            tol=self.tol,
            # A regressor stops being pulled at half its tolerance, a
            # classifier once its class leads by 0.1 in log-probability, so
            # that rounding in the model does not undo what was found.
            band=self.tol / 2,
            margin=0.1,
            min_probability=self.min_probability,
        )

    # -- a panel -----------------------------------------------------------------

    def _edit_panel(self, X, predictions):
        predictions = _flat(predictions)
        targets = self._targets(predictions)
        todo = np.flatnonzero(~self._reached(predictions, targets))
        X_new = np.array(X)  # instances already at their target come back as they are
        reached = np.ones(len(X), bool)
        fallbacks = 0
        for begin in range(0, len(todo), _INSTANCES_PER_BATCH):
            chosen = todo[begin : begin + _INSTANCES_PER_BATCH]
            instances = np.asarray(X[chosen], np.float32)
            found, ok, fell_back = self._counterfactuals(instances, targets[chosen])
            # What the search left alone comes back bit for bit.
            X_new[chosen] = np.where(found != instances, found.astype(X.dtype), X[chosen])
            reached[chosen] = ok
            fallbacks += fell_back
        return X_new, reached, fallbacks

    def _counterfactuals(self, instances, targets):
        """Start, refine, check: the counterfactuals of a batch of instances."""
        neighbours, has_neighbour = self._unlike_neighbours(instances, targets)
        if self.start == "swap":
            start, mask = self._segment_swaps(instances, neighbours, targets)
        elif self.start == "neighbour":
            start, mask = neighbours, np.ones((*instances.shape[:2], 1), np.float32)
        else:
            start, mask = instances, np.ones((*instances.shape[:2], 1), np.float32)
        start = np.where(has_neighbour[:, None, None], start, instances)
        mask = np.where(has_neighbour[:, None, None], mask, 1.0).astype(np.float32)
        start_ok = self._reached(_flat(self._predict_windows(self.model_, start)), targets)
        if self.steps == 0:
            return start, start_ok, 0
        if not start_ok.all():  # no valid start known: first reach the target
            far = ~start_ok
            start[far] = self._reach(start[far], targets[far], mask=mask[far])
            start_ok = self._reached(_flat(self._predict_windows(self.model_, start)), targets)
        anchor = np.where(has_neighbour[:, None, None], neighbours, instances)
        if self.space == "latent":
            found = self._refine_in_latent_space(instances, start, anchor, targets)
        else:
            found = self._refine(instances, start, mask, anchor, targets)
        ok = self._reached(_flat(self._predict_windows(self.model_, found)), targets)
        # What the model itself does not confirm falls back to the start.
        lost = ~ok & start_ok
        found[lost] = start[lost]
        fallbacks = int(lost.sum()) if self.space == "latent" else 0
        if self.space == "input" and self.plausibility > 0:
            self._replace_outliers(found, instances, start, mask, anchor, targets)
        return found, ok | start_ok, fallbacks

    def _replace_outliers(self, found, instances, start, mask, anchor, targets):
        """Results that are outliers of the target's reference, searched again.

        A result that the local outlier factor ``report`` measures with calls
        an outlier is refined again from its start with ``_PLAUSIBILITY_BOOST``
        times the plausibility weight. The first of that result and the
        shortest swap of a segment of its unlike neighbour (``anchor``) that
        meets the target and is no outlier replaces it (else it stays). Only
        outliers change, so results that were plausible keep their distance.
        """
        outliers = self._outliers(found, targets)
        if not outliers.any():
            return
        chosen = np.flatnonzero(outliers)
        again = self._refine(
            instances[chosen],
            start[chosen],
            mask[chosen],
            anchor[chosen],
            targets[chosen],
            plausibility=self.plausibility * _PLAUSIBILITY_BOOST,
        )
        swapped, _ = self._segment_swaps(
            instances[chosen], anchor[chosen], targets[chosen], plausible=True
        )
        for candidate in (again, swapped):
            outputs = _flat(self._predict_windows(self.model_, candidate))
            better = self._reached(outputs, targets[chosen])
            better &= outliers[chosen] & ~self._outliers(candidate, targets[chosen])
            found[chosen[better]] = candidate[better]
            outliers[chosen[better]] = False

    def _outliers(self, outputs, targets):
        """Per result, whether the LOF of ``report`` calls it an outlier
        (all False where it cannot be fitted)."""
        try:
            return metrics.lof_outliers(outputs, self.reference_, **self._by_class(targets))
        except ValueError:  # a target class with fewer than two reference sequences
            return np.zeros(len(outputs), bool)

    def _by_class(self, targets):
        """How plausibility figures split the reference: by target class
        for a classifier, not at all for a regressor."""
        if self.classes_ is None:
            return {}
        return dict(
            target=targets, reference_classes=metrics.predicted_class(self.reference_predictions_)
        )

    def _unlike_neighbours(self, instances, targets):
        """The nearest reference sequence meeting each instance's target."""
        reference = self.reference_
        meets = self._reference_meets(targets)
        neighbours = np.empty_like(instances)
        found = meets.any(axis=1)
        flat_reference = reference.reshape(len(reference), -1)
        flat = instances.reshape(len(instances), -1)
        for i in np.flatnonzero(found):
            candidates = np.flatnonzero(meets[i])
            distance = np.sum(np.square(flat_reference[candidates] - flat[i]), axis=1)
            neighbours[i] = reference[candidates[np.argmin(distance)]]
        neighbours[~found] = instances[~found]
        return neighbours, found

    def _reference_meets(self, targets):
        """(n_instances, n_reference): which reference sequences meet each target."""
        outputs = self.reference_predictions_
        if self.classes_ is not None:
            classes = metrics.predicted_class(outputs)
            met = classes[None, :] == np.asarray(targets)[:, None]
            if self.min_probability is not None:
                for i, target in enumerate(targets):
                    probability = metrics.class_probability(outputs, target)
                    met[i] &= probability >= self.min_probability
            return met
        miss = np.abs(outputs[None, :, :] - targets[:, None, :])
        return np.all(miss <= self.tol * self.prediction_scale_, axis=2)

    def _segment_swaps(self, instances, neighbours, targets, plausible=False):
        """The shortest segment of each neighbour that flips the prediction.

        Segments are tried in order of length, at the ``_SWAP_POSITIONS``
        positions where the swap matters most to the model: the saliency of
        a timestep is its gradient (of the target's log-probability, or of
        minus the squared miss) times the change the swap makes there. Of
        the shortest length that meets the target, the swap nearest the
        instance wins. With ``plausible``, a swap must also be no outlier of
        the target's reference (see ``_outliers``). Returns the swapped
        instances and the mask of the swapped timesteps; an instance that no
        segment flips gets the whole neighbour.
        """
        n, steps, n_features = instances.shape
        change = neighbours - instances
        gradient = _keras.input_gradient(self.model_, instances, self._gain(targets))
        saliency = np.abs(gradient * change).sum(axis=2)
        start, mask = np.array(neighbours), np.ones((n, steps, 1), np.float32)
        lengths = _segment_lengths(steps)
        # Lengths a few at a time, for the instances not yet flipped: most
        # flip at a short length, and the candidates held stay bounded.
        per_length = _SWAP_POSITIONS * steps * n_features * 4
        todo = np.arange(n)
        first = 0
        while len(todo) and first < len(lengths):
            count = min(_LENGTHS_AT_ONCE, max(1, _SWAP_BYTES // (per_length * len(todo))))
            tried = np.asarray(lengths[first : first + count])
            first += count
            starts = np.stack(
                [_top_segments(saliency[todo], length, _SWAP_POSITIONS) for length in tried],
                axis=1,
            )
            # inside[i, l, k]: the timesteps of segment k of length l.
            timestep = np.arange(steps)
            inside = (timestep >= starts[..., None]) & (
                timestep < starts[..., None] + tried[None, :, None, None]
            )
            candidates = np.where(
                inside[..., None], neighbours[todo, None, None], instances[todo, None, None]
            ).reshape(-1, steps, n_features)
            repeated = np.repeat(targets[todo], len(tried) * _SWAP_POSITIONS, axis=0)
            outputs = _flat(self._predict_windows(self.model_, candidates))
            ok = self._reached(outputs, repeated)
            if plausible and ok.any():
                ok[ok] = ~self._outliers(candidates[ok], repeated[ok])
            ok = ok.reshape(inside.shape[:3])
            distance = np.linalg.norm(
                (
                    candidates.reshape(*ok.shape, -1)
                    - instances[todo, None, None].reshape(len(todo), 1, 1, -1)
                ),
                axis=3,
            )
            distance = np.where(ok, distance, np.inf)
            candidates = candidates.reshape(*ok.shape, steps, n_features)
            flipped = ok.any(axis=(1, 2))
            for j in np.flatnonzero(flipped):
                shortest = np.flatnonzero(ok[j].any(axis=1))[0]
                best = np.argmin(distance[j, shortest])
                start[todo[j]] = candidates[j, shortest, best]
                mask[todo[j], :, 0] = inside[j, shortest, best]
            todo = todo[~flipped]
        return start, mask

    def _gain(self, targets):
        """Per instance, what grows as its prediction nears the target (keras ops)."""
        ops = _keras.import_keras().ops
        encoded = self._search_targets(targets)
        if self.classes_ is None:
            scale = np.asarray(self.prediction_scale_, np.float32)

            def gain(outputs):
                miss = ops.divide(
                    ops.subtract(ops.reshape(outputs, (len(encoded), -1)), encoded), scale
                )
                return -ops.sum(ops.square(miss), axis=1)

            return gain

        def log_probability(outputs):
            outputs = ops.reshape(outputs, (len(encoded), -1))
            if outputs.shape[1] == 1:
                outputs = ops.concatenate([1.0 - outputs, outputs], axis=1)
            # ops.multiply, not *: a NumPy array times a torch tensor is a TypeError.
            return ops.sum(ops.multiply(encoded, ops.log(ops.clip(outputs, 1e-30, 1.0))), axis=1)

        return log_probability

    def _reach(self, start, targets, **where):
        """A plain search toward the target, with no pull back: the start of a
        refinement when no valid start is known."""
        objective = replace(self._objective("first"), proximity=0.0, sparsity=0.0)
        moves, _ = optimize_toward(
            self.model_,
            start,
            self._search_targets(targets),
            scale=self.feature_scale_,
            prediction_scale=self.prediction_scale_,
            objective=objective,
            bounds=self._value_bounds(),
            steps=self._max_steps(series="series_window" in where),
            learning_rate=self.learning_rate,
            **where,
        )
        return moved(start, moves)

    def _refine(self, instances, start, mask, anchor, targets, plausibility=None):
        if plausibility is None:
            plausibility = self.plausibility
        moves, _ = optimize_toward(
            self.model_,
            start,
            self._search_targets(targets),
            scale=self.feature_scale_,
            prediction_scale=self.prediction_scale_,
            objective=self._objective("best", plausibility=plausibility),
            origin=instances,
            anchor=anchor,
            mask=mask,
            bounds=self._value_bounds(),
            steps=self._max_steps(),
            learning_rate=self.learning_rate,
        )
        return moved(start, moves)

    def _refine_in_latent_space(self, instances, start, anchor, targets):
        """Search codes: the result is X plus the change of its decoding."""
        encode = self._codes
        origin = encode(instances)
        offset = instances - self._predict_windows(self.decoder_, origin)
        code_start = encode(start)
        moves, _ = optimize_toward(
            self.model_,
            code_start,
            self._search_targets(targets),
            scale=self.code_scale_,
            prediction_scale=self.prediction_scale_,
            objective=self._objective("best", plausibility=self.plausibility),
            decoder=self.decoder_,
            offset=offset,
            origin=origin,
            anchor=encode(anchor),
            steps=self._max_steps(),
            learning_rate=self.learning_rate,
        )
        found = self._predict_windows(self.decoder_, code_start + moves) + offset
        return self._kept_in_bounds(instances, found)  # before the model checks the results

    # -- a series ------------------------------------------------------------------

    def _edit_series(self, X, predictions):
        """Search the rows of X (see :func:`search_series`): a start that
        reaches the targets, refined back toward X."""
        predictions = _flat(predictions)
        window = self.window_
        requested = self._requested_windows(len(X))
        # The default targets (each window's own prediction moved) are made
        # block by block: a series' worth is as large as its predictions. A
        # given target is resolved at once: a callable sees every prediction,
        # an array has one target per window (a number is a broadcast view).
        given = None if self.target is None else self._targets(predictions)

        def targets(first, last):
            own = predictions[first:last]
            aims = self._targets(own) if given is None else given[first:last]
            asked = requested[first:last]
            if asked.all():
                return aims
            held = own if self.classes_ is None else metrics.predicted_class(own)
            return np.where(_column(asked, aims), aims, held)

        def search(rows, block_targets, mask):
            where = dict(mask=mask, series_window=window)
            reaching = self._reach(rows, block_targets, **where)
            moves, _ = optimize_toward(
                self.model_,
                reaching,
                self._search_targets(block_targets),
                scale=self.feature_scale_,
                prediction_scale=self.prediction_scale_,
                objective=self._objective("best"),
                origin=rows,
                bounds=self._value_bounds(),
                steps=self._max_steps(series=True),
                learning_rate=self.learning_rate,
                **where,
            )
            return moved(reaching, moves)

        X_new = np.array(X)
        if self.steps == 0:
            reached = self._reached(predictions, targets(0, len(predictions)))
            return X_new, requested, reached[requested]
        reached = search_series(
            X_new,
            targets,
            window=window,
            predict=lambda windows: _flat(self._predict_windows(self.model_, windows)),
            reached=self._reached,
            search=search,
        )
        return X_new, requested, reached[requested]

    def _requested_windows(self, n_rows):
        """Which windows must reach the target: those ending at ``rows``."""
        n_windows = n_rows - self.window_ + 1
        if self.rows is None:
            return np.ones(n_windows, bool)
        rows = np.asarray(self.rows)
        if rows.dtype == bool:
            if rows.shape != (n_rows,):
                raise ValueError(
                    f"rows is a boolean mask of shape {rows.shape}; it must have one "
                    f"value per row of X, shape ({n_rows},)."
                )
            rows = np.flatnonzero(rows)
        elif not np.issubdtype(rows.dtype, np.integer):
            raise ValueError(
                f"rows must be row indices (int) or a boolean mask over the rows of X; "
                f"got an array of dtype {rows.dtype}."
            )
        rows = np.where(rows < 0, rows + n_rows, rows)
        if rows.size and (rows.min() < self.window_ - 1 or rows.max() >= n_rows):
            raise ValueError(
                f"rows must lie in [{self.window_ - 1}, {n_rows}): the window ending at "
                f"a row needs the {self.window_ - 1} rows before it, and X has {n_rows} "
                f"rows; got rows from {rows.min()} to {rows.max()}."
            )
        requested = np.zeros(n_windows, bool)
        requested[rows - (self.window_ - 1)] = True
        return requested

    # -- shared helpers ------------------------------------------------------------

    def _instances(self, X, X_new, requested):
        """The instances a report measures: a panel's sequences, or the
        requested windows of a series."""
        if requested is None:
            return X, X_new
        return self._windows(X)[requested], self._windows(X_new)[requested]

    def _plausibility(self, outputs, targets):
        """LOF outlier rate and nearest-reference distance, or None each."""
        if len(outputs) > _MAX_REFERENCE:
            keep = np.linspace(0, len(outputs) - 1, _MAX_REFERENCE).astype(int)
            outputs, targets = outputs[keep], targets[keep]
        by_class = self._by_class(targets)
        try:
            return (
                metrics.lof_outlier_rate(outputs, self.reference_, **by_class),
                metrics.nearest_reference_distance(outputs, self.reference_, **by_class),
            )
        except ValueError:  # a target class with fewer than two reference sequences
            return None, None

    def _reconstruction_error(self, outputs):
        if self.space != "latent":
            return None
        decoded = self._predict_windows(self.decoder_, self._codes(outputs))
        return float(np.mean(np.abs(decoded - outputs)))

    def _codes(self, windows):
        return self._predict_windows(self.encoder_, np.asarray(windows, np.float32))

    def _fit_autoencoder(self, windows):
        """The given pair, checked, or one trained on the windows."""
        helper = LatentReshaper(
            autoencoder=self.autoencoder,
            latent_dim=self.latent_dim,
            units=self.units,
            epochs=self.epochs,
            batch_size=self.batch_size,
            predict_batch_size=self.predict_batch_size,
            verbose=self.verbose,
            random_state=self.random_state,
        )
        pair = helper._given_autoencoder()
        if pair is None:
            return helper._train_autoencoder(windows)
        helper.encoder_, helper.decoder_ = pair
        helper._check_autoencoder(windows)
        return pair

    def _input_shape(self, X):
        return (self.window_ or DEFAULT_WINDOW, X.shape[-1]) if X.ndim == 2 else X.shape[1:]

    def _n_outputs(self):
        return self.reference_predictions_.shape[1]


def _flat(predictions):
    return np.asarray(predictions).reshape(len(predictions), -1)


def _column(mask, like):
    """``mask`` shaped to broadcast against ``like`` along its first axis."""
    return mask.reshape((-1,) + (1,) * (np.ndim(like) - 1))


def _runner_up(probabilities):
    """The most probable class other than the predicted one."""
    probabilities = np.asarray(probabilities)
    if probabilities.shape[1] == 1:  # one sigmoid output: the other class
        return 1 - metrics.predicted_class(probabilities)
    return np.argsort(probabilities, axis=1)[:, -2]


def _segment_lengths(steps):
    """Segment lengths to try, shortest first: every length up to 64 timesteps,
    then a geometric grid up to the whole sequence."""
    if steps <= _ALL_LENGTHS_UP_TO:
        return list(range(1, steps + 1))
    longer = np.geomspace(_ALL_LENGTHS_UP_TO + 1, steps, 32).round().astype(int)
    return sorted({*range(1, _ALL_LENGTHS_UP_TO + 1), *longer.tolist(), steps})


def _top_segments(saliency, length, positions):
    """(n, positions) starts of the segments of ``length`` with the largest
    summed saliency (repeated when there are fewer positions)."""
    cumulative = np.concatenate([np.zeros((len(saliency), 1)), np.cumsum(saliency, axis=1)], axis=1)
    sums = cumulative[:, length:] - cumulative[:, :-length]
    order = np.argsort(-sums, axis=1, kind="stable")[:, :positions]
    if order.shape[1] < positions:
        order = np.concatenate(
            [order, np.repeat(order[:, :1], positions - order.shape[1], axis=1)], axis=1
        )
    return order
