"""LatentReshaper: edit X through an LSTM autoencoder's latent space, or search
counterfactuals toward a target prediction."""

import warnings
from numbers import Integral, Real

import numpy as np

from . import _keras
from ._base import DEFAULT_WINDOW, DEPRECATED, WindowAutoencodingReshaper, moved
from ._optimize import SEARCH_BATCH_SIZE, Objective, optimize_toward
from .utils._docstrings import fill_doc
from .utils._sklearn_compat import Hidden, Interval, StrOptions

# Edits that need the wrapped model's predictions.
_PREDICTOR_EDITS = ("shift", "optimize")


@fill_doc
class LatentReshaper(WindowAutoencodingReshaper):
    """Edit X in an LSTM autoencoder's latent space, or toward a target prediction.

    An LSTM autoencoder encodes every window of X; ``transform`` edits the
    codes and decodes them back. ``edit="noise"`` and ``edit="shift"`` give
    augmented data; ``edit="optimize"`` searches, for all windows at once,
    the code whose decoded window makes the wrapped model predict ``target``
    while staying close to the original code: a batched counterfactual
    search. ``space="input"`` runs the same search on the windows themselves,
    without the autoencoder. A 2-D series is edited window by window and
    folded back into rows; each sequence of a 3-D panel is edited whole.

    Read more in the :ref:`User Guide <latent>`.

    Parameters
    ----------
    model : keras.Model, str, os.PathLike or None, default=None
        The fitted Keras model whose predictions the edits look at: a
        ``keras.Model`` or the path of a ``.keras`` file. None allows only the
        edits that need no model (``"noise"`` and callables). A given model
        is frozen: it is never trained or modified. A path is loaded in
        Keras's safe mode; a pickled estimator restores its models without
        it, so unpickle only estimators you trust (see
        :ref:`the user guide <persistence>`).

    autoencoder : (keras.Model, keras.Model) or None, default=None
        A fitted ``(encoder, decoder)`` pair used as it is: the encoder maps
        a batch of windows ``(batch, window, n_features)`` to codes
        ``(batch, latent_dim)`` and the decoder maps them back. None trains an
        LSTM autoencoder on X in ``fit`` (see
        :func:`~sklearn_lstm_reshape.models.train_autoencoder`).

    {{window}}

        Without a model, the given autoencoder's input length.

    latent_dim : int, default=8
        Size of the trained autoencoder's code (ignored with ``autoencoder``).

    units : int, default=32
        Units of the layers of the autoencoder ``fit`` trains.

    epochs : int, default=30
        Training epochs of the autoencoder ``fit`` trains.

    edit : {"noise", "shift", "optimize"} or callable, default="noise"
        - ``"noise"``: add Gaussian noise of ``scale`` standard deviations of
          the training codes to every code, seeded by ``random_state``;
        - ``"shift"``: move every code by ``scale`` standard deviations along
          the latent direction that most increases the model's prediction
          (the mean of its outputs, each in its own standard deviations),
          learned in ``fit`` by least squares on the training codes;
        - ``"optimize"``: the batched search toward ``target`` (see Notes),
          deprecated: use :class:`CounterfactualReshaper`;
        - a callable ``edit(codes, predictions) -> codes`` of the codes'
          shape; ``predictions`` is None without a model. It is called once
          per batch of windows (a few thousand), so that a long series is
          never held as windows at once: an edit that needs statistics of
          every code should take them from ``encoder_`` in advance.

    scale : float, default=0.5
        Size of ``"noise"`` and ``"shift"``, in standard deviations of the
        training codes.

    target : float, array-like or callable, default=None
        The prediction ``edit="optimize"`` searches for: a number, an array
        broadcastable to one prediction, or a callable mapping the current
        predictions to targets of their shape (e.g. ``lambda p: p + 1``).

    space : {"latent", "input"}, default="latent"
        Where ``edit="optimize"`` searches: the autoencoder's codes, or the
        windows of X directly (the result need not look like the data, but
        it is the baseline that often reaches the target more often).

    steps : int, default=100
        Most gradient steps per window of the search.

    learning_rate : float, default=0.1
        Learning rate of the search's Adam optimiser, in standard deviations
        of the codes (or of the features, with ``space="input"``) per step.

    proximity : float, default=0.1
        Weight of the distance from the original code (or window) in the
        search's loss: higher stays closer, lower reaches the target more
        often.

    tol : float, default=0.1
        A window has reached its target when every output of its prediction
        is within ``tol`` standard deviations (of the model's predictions on
        the training windows) of it. The search stops for that window.

    {{overlap}}

    mode : {"regenerate", "edit"}, default="regenerate"
        ``"regenerate"``: the result is the decoded edited code: X is
        replaced by what the autoencoder makes of it, reconstruction error
        included. ``"edit"``: X is edited rather than replaced: the result is
        X plus the change the edit makes to the decoded window,
        ``decode(edited) - decode(code)`` (and the search looks at the
        model's prediction on that). Detail the autoencoder cannot reproduce
        is kept, and a window the edit leaves alone comes back as it was.

    {{batch_size network="autoencoder"}}

    {{predict_batch_size}}

    fold : {"mean", "last"}, default="deprecated"
        {{renamed old=fold new=overlap}}

    residual : bool, default="deprecated"
        The old form of ``mode``: True is ``mode="edit"``, False
        ``mode="regenerate"``.

        .. deprecated:: 0.2
           Replaced by ``mode``; ``residual`` will be removed in 0.3.

    verbose : int, default=0
        Print training progress when > 0.

    {{random_state draws=" and the draws of ``edit=\"noise\"``"}}

    Attributes
    ----------
    model_ : keras.Model or None
        The model whose predictions the edits look at.

    {{window_}}

    encoder_, decoder_ : keras.Model
        The autoencoder: trained in ``fit``, or the given pair.

    code_scale_ : ndarray of shape (latent_dim,)
        Standard deviation of each code dimension over the training windows.

    feature_scale_ : ndarray of shape (`n_features_in_`,)
        Standard deviation of each feature over the training rows: the unit of
        ``learning_rate`` and of the distance with ``space="input"``.

    prediction_scale_ : ndarray of shape (n_outputs,) or None
        Standard deviation of each (flattened) output of the model over the
        training windows; the unit of ``tol``.

    shift_direction_ : ndarray of shape (latent_dim,) or None
        The code step of ``edit="shift"`` with ``scale=1``.

    {{n_features_in_}}

    See Also
    --------
    CounterfactualReshaper : The nearest X for which the model predicts a target.
    GenerativeReshaper : Regenerate X under a requested prediction with a CVAE.
    sklearn_lstm_reshape.models.train_autoencoder : The autoencoder trained in ``fit``.

    Notes
    -----
    The search minimises, for every window at once, the mean squared miss of
    the model's prediction (in standard deviations of its outputs) plus
    ``proximity`` times the mean squared distance from the starting code (in
    standard deviations of the codes), with Adam. Each window has its own
    loss term and Adam scales each coordinate on its own, so a window gets the
    same steps as in a search of its own. A window stops when it reaches its
    target; the others go on for at most ``steps`` steps, or until the loss
    of the search stops falling (by less than 0.1 % in each of two checks,
    10 steps apart).

    ``report(X)`` runs the wrapped model again on the result and returns a
    dict:

    - ``validity``: the fraction of windows of the result whose prediction is
      within ``tol`` of the target (every output); None unless
      ``edit="optimize"``;
    - ``validity_before``: the same fraction on X;
    - ``target_gap_before``, ``target_gap_after``: mean ``|prediction -
      target|`` on X and on the result (None unless optimising);
    - ``proximity``: mean ``|X_new - X|``;
    - ``plausibility``: the autoencoder's mean reconstruction error
      ``|decode(encode(w)) - w|`` over the windows of the result, and
      ``plausibility_before`` the same on X: data the autoencoder reproduces
      well looks like its training data;
    - ``predictions_before``, ``predictions_after``: the model's predictions
      on the windows of X and of the result (None without a model);
    - ``searched_validity``: for ``edit="optimize"`` on a 2-D series, the
      fraction of searched windows that reached the target before they were
      folded back into rows (folding mixes neighbouring windows).

    Examples
    --------
    >>> from sklearn_lstm_reshape import LatentReshaper
    >>> from sklearn_lstm_reshape.datasets import make_anomalous_series
    >>> from sklearn_lstm_reshape.models import train_forecaster
    >>> X = make_anomalous_series(n_timesteps=300, n_features=2, random_state=0).X
    >>> lstm = train_forecaster(X, window=12, units=8, epochs=2, random_state=0)
    >>> lat = LatentReshaper(lstm, latent_dim=4, units=8, epochs=2, edit="optimize",
    ...                      target=lambda p: p + 0.5, random_state=0)
    >>> lat.fit(X).transform(X).shape
    (300, 2)
    """

    _parameter_constraints: dict = {
        **WindowAutoencodingReshaper._parameter_constraints,
        "autoencoder": [None, tuple, list],
        "edit": [StrOptions({"noise", "shift", "optimize"}), callable],
        "scale": [Interval(Real, 0, None, closed="left")],
        "target": [None, Real, "array-like", callable],
        "space": [StrOptions({"latent", "input"})],
        "steps": [Interval(Integral, 1, None, closed="left")],
        "learning_rate": [Interval(Real, 0, None, closed="neither")],
        "proximity": [Interval(Real, 0, None, closed="left")],
        "tol": [Interval(Real, 0, None, closed="left")],
        "mode": [StrOptions({"regenerate", "edit"})],
        "residual": ["boolean", Hidden(StrOptions({DEPRECATED}))],
    }
    _frozen_params = ("model", "autoencoder")
    _trains_default_model = False

    _transform_params = (
        *WindowAutoencodingReshaper._transform_params,
        "edit",
        "scale",
        "target",
        "space",
        "steps",
        "learning_rate",
        "proximity",
        "tol",
    )

    def __init__(
        self,
        model=None,
        *,
        autoencoder=None,
        window=None,
        latent_dim=8,
        units=32,
        epochs=30,
        edit="noise",
        scale=0.5,
        target=None,
        space="latent",
        steps=100,
        learning_rate=0.1,
        proximity=0.1,
        tol=0.1,
        overlap="mean",
        mode="regenerate",
        batch_size=64,
        predict_batch_size=4096,
        fold=DEPRECATED,
        residual=DEPRECATED,
        verbose=0,
        random_state=None,
    ):
        self.model = model
        self.autoencoder = autoencoder
        self.window = window
        self.latent_dim = latent_dim
        self.units = units
        self.epochs = epochs
        self.edit = edit
        self.scale = scale
        self.target = target
        self.space = space
        self.steps = steps
        self.learning_rate = learning_rate
        self.proximity = proximity
        self.tol = tol
        self.overlap = overlap
        self.mode = mode
        self.batch_size = batch_size
        self.predict_batch_size = predict_batch_size
        self.fold = fold
        self.residual = residual
        self.verbose = verbose
        self.random_state = random_state

    # -- the strategy's hooks ----------------------------------------------------

    def _window_without_model(self, X):
        if X.ndim == 3:
            return None
        autoencoder = self._given_autoencoder()
        if autoencoder is not None:
            steps = _keras.model_input_shape(autoencoder[0])[0]
            if self.window is not None and steps is not None and steps != self.window:
                raise ValueError(
                    f"window={self.window}, but the autoencoder takes windows of "
                    f"{steps} timesteps. Set window={steps} or leave window=None."
                )
            return self.window or steps or DEFAULT_WINDOW
        return self.window or DEFAULT_WINDOW

    def _needs_predictions(self):
        # A fixed target needs no prediction of X: the search predicts as it goes.
        return (self.edit == "optimize" and callable(self.target)) or callable(self.edit)

    def _fit_strategy(self, X, predictions):
        windows = self._windows(X)
        given = self._given_autoencoder()
        if given is None:
            self.encoder_, self.decoder_ = self._train_autoencoder(windows)
        else:
            self.encoder_, self.decoder_ = given
            self._check_autoencoder(windows)
        codes = self._encode(windows)
        self.code_scale_ = _scale(codes)
        self.feature_scale_ = _scale(X.reshape(-1, X.shape[-1]))
        self.prediction_scale_ = self.shift_direction_ = None
        if predictions is not None:
            predictions = self._flat(predictions)
            self.prediction_scale_ = _scale(predictions)
            self.shift_direction_ = self._direction(codes, predictions)

    def _edit(self, X, predictions, details):
        windows = self._windows(X)
        edits_X = self._param("mode") == "edit"
        in_input_space = self.edit == "optimize" and self.space == "input"
        normal = self._batch_normal(len(windows)) if self.edit == "noise" else None
        reached, distance = [], 0.0
        long_input = len(windows) > SEARCH_BATCH_SIZE
        # One target for every window, as report() measures it: a callable
        # sees all the predictions at once, not one batch of them.
        targets = self._search_targets(predictions, windows) if self.edit == "optimize" else None

        def rewrite(start, stop):
            nonlocal distance
            batch = np.asarray(windows[start:stop])
            own = None if predictions is None else predictions[start:stop]
            codes = decoded = None
            if details is not None:  # the report measures X's own reconstruction
                codes = self._encode(batch)
                decoded = self._decode(codes)
                distance += float(np.abs(decoded - batch).sum())
            if in_input_space:
                moves, batch_reached = self._search(
                    batch, targets[start:stop], long_input=long_input
                )
                reached.append(batch_reached)
                # Moves are added to X's own values: what the search left alone
                # comes back bit for bit.
                return [moved(batch, moves)]
            if codes is None:
                codes = self._encode(batch)
            if edits_X and decoded is None:
                decoded = self._decode(codes)
            if self.edit == "optimize":
                offset = batch - decoded if edits_X else None
                moves, batch_reached = self._search(
                    codes, targets[start:stop], offset, long_input=long_input
                )
                reached.append(batch_reached)
                new_codes = codes + moves
            else:
                new_codes = self._edit_codes(codes, own, normal, start)
            new_windows = self._decode(new_codes)
            if edits_X:  # the window plus the change the edit made to its decoding
                np.subtract(new_windows, decoded, out=new_windows)
                return [moved(batch, new_windows)]
            return [new_windows]

        (X_new,) = self._rewrite(X, rewrite)
        if details is not None:
            details.update(
                reached=np.concatenate(reached[::-1]) if reached else None,
                plausibility_before=distance / windows.size,
            )
        return X_new

    def _report(self, X, X_new, predictions, details):
        report = {
            "validity": None,
            "validity_before": None,
            "target_gap_before": None,
            "target_gap_after": None,
            "proximity": float(np.mean(np.abs(X_new - X))),
            "plausibility": self._reconstruction_error(X_new),
            "plausibility_before": details["plausibility_before"],
            "predictions_before": None,
            "predictions_after": None,
            "searched_validity": None,
        }
        if self.model_ is None:
            return report
        before, after = self._predict(X), self._predict(X_new)
        report["predictions_before"], report["predictions_after"] = before, after
        if self.edit == "optimize":
            target = self._search_targets(before)
            report["validity_before"] = float(self._reached(self._flat(before), target).mean())
            report["validity"] = float(self._reached(self._flat(after), target).mean())
            report["target_gap_before"] = float(np.mean(np.abs(self._flat(before) - target)))
            report["target_gap_after"] = float(np.mean(np.abs(self._flat(after) - target)))
            report["searched_validity"] = float(details["reached"].mean())
        return report

    # -- internals -------------------------------------------------------------

    def _check_settings(self):
        if self.edit == "optimize":
            warnings.warn(
                "LatentReshaper(edit='optimize') is deprecated in 0.2 and will be removed "
                "in 0.3. Use CounterfactualReshaper(model, target=..., space='latent') (or "
                "space='input'): it starts from the nearest unlike neighbour, keeps every "
                "instance that starts valid valid, and searches a series' rows, so nothing "
                "is lost when windows are folded back.",
                FutureWarning,
                stacklevel=4,
            )
        if self.model is None and (self.edit in _PREDICTOR_EDITS):
            raise ValueError(
                f"edit={self.edit!r} needs the model's predictions, but model=None. "
                f"Pass the fitted Keras model (or its .keras path) as the first "
                f"argument, or use edit='noise' or a callable edit."
            )
        if self.edit == "optimize" and self.target is None:
            raise ValueError(
                "edit='optimize' searches for a target prediction, but target=None. "
                "Pass target= a number, an array broadcastable to one prediction, "
                "or a callable of the predictions (e.g. lambda p: p + 1)."
            )
        if self.space == "input" and self.edit != "optimize":
            raise ValueError(
                f"space='input' applies to edit='optimize' only, got edit={self.edit!r}. "
                f"Leave space='latent' for the other edits."
            )

    def _refuse_chunks_for(self, ndim):
        if self.edit == "optimize":
            raise ValueError(
                "LatentReshaper(edit='optimize') searches windows in batches that stop "
                "together, so a chunk of a dask array would not search as the whole "
                "array does: transform it in memory (X.compute()), or use the latent "
                "edits 'noise' and 'shift', which take dask arrays."
            )

    def _given_autoencoder(self):
        if self.autoencoder is None:
            return None
        pair = tuple(self.autoencoder)
        if len(pair) != 2 or not all(_keras.is_keras_model(part) for part in pair):
            raise TypeError(
                "autoencoder must be None or a fitted (encoder, decoder) pair of "
                f"keras.Model; got {_describe(self.autoencoder)}."
            )
        return pair

    def _check_autoencoder(self, windows):
        """The given pair must map these windows to codes and back."""
        try:
            codes = self._encode(windows[:2])
            decoded = self._decode(codes)
        except Exception as error:
            raise ValueError(
                f"The autoencoder could not encode and decode windows of shape "
                f"{windows.shape[1:]}: {type(error).__name__}: "
                f"{str(error).splitlines()[0]}. Pass an (encoder, decoder) pair "
                f"whose encoder takes (batch, timesteps, n_features)."
            ) from error
        if codes.ndim != 2 or decoded.shape[1:] != windows.shape[1:]:
            raise ValueError(
                f"The autoencoder maps windows of shape {windows.shape[1:]} to "
                f"codes of shape {codes.shape[1:]} and back to {decoded.shape[1:]}; "
                f"the encoder must give one flat code per window and the decoder "
                f"a window of shape {windows.shape[1:]}."
            )

    def _train_autoencoder(self, windows):
        from .models import train_autoencoder

        if self.verbose:
            print(
                f"[LatentReshaper] training the LSTM autoencoder on {len(windows)} windows",
                flush=True,
            )
        return train_autoencoder(
            windows,
            latent_dim=self.latent_dim,
            units=self.units,
            epochs=self.epochs,
            batch_size=self.batch_size,
            random_state=self.random_state,
            verbose=self.verbose,
        )

    def _encode(self, windows):
        return self._predict_windows(self.encoder_, windows)

    def _decode(self, codes):
        return self._predict_windows(self.decoder_, codes)

    @staticmethod
    def _flat(predictions):
        return np.asarray(predictions).reshape(len(predictions), -1)

    def _direction(self, codes, predictions):
        """The code step along which the mean standardised prediction grows most."""
        response = ((predictions - predictions.mean(axis=0)) / self.prediction_scale_).mean(axis=1)
        standardised = (codes - codes.mean(axis=0)) / self.code_scale_
        slope = np.linalg.lstsq(standardised, response, rcond=None)[0]
        norm = np.linalg.norm(slope)
        unit = slope / norm if norm > 0 else np.zeros_like(slope)
        return (unit * self.code_scale_).astype(np.float32)

    def _reached(self, predictions, target):
        return np.all(np.abs(predictions - target) <= self.tol * self.prediction_scale_, axis=1)

    def _edit_codes(self, codes, predictions, normal, start):
        if self.edit == "noise":
            noise = normal(start, start + len(codes), codes.shape[1:])
            return codes + (self.scale * self.code_scale_ * noise).astype(np.float32)
        if self.edit == "shift":
            return codes + self.scale * self.shift_direction_
        edited = np.asarray(self.edit(codes.copy(), predictions), dtype=np.float32)
        if edited.shape != codes.shape:
            raise ValueError(
                f"edit returned codes of shape {edited.shape}; it must return an "
                f"array of the codes' shape {codes.shape}."
            )
        return edited

    def _search_targets(self, predictions, windows=None):
        """The flattened target of every window; without ``predictions`` (a
        target that is not a callable of them), of every one of ``windows``."""
        if predictions is None:  # only their shape matters: a broadcast view
            one = _keras.model_output_shape(self.model_, windows.shape[1:])
            predictions = np.broadcast_to(np.float32(0), (len(windows), *one))
        return self._flat(self._broadcast_request(self.target, predictions, "target"))

    def _search(self, start, target, offset=None, *, long_input):
        """Search from ``start`` (codes, or the windows themselves) toward
        ``target``; ``long_input``: ``start`` is one part of many."""
        in_latent_space = self.space == "latent"
        moves, reached = optimize_toward(
            self.model_,
            start,
            target,
            scale=self.code_scale_ if in_latent_space else self.feature_scale_,
            prediction_scale=self.prediction_scale_,
            objective=Objective(proximity=self.proximity, tol=self.tol),
            decoder=self.decoder_ if in_latent_space else None,
            offset=offset,
            steps=self.steps,
            learning_rate=self.learning_rate,
            full_batches=long_input,
        )
        return moves, reached >= 1

    def _reconstruction_error(self, X):
        windows = self._windows(X)
        return float(np.mean(np.abs(self._decode(self._encode(windows)) - windows)))


def _scale(values):
    """Per-column standard deviation; a constant column counts as 1."""
    from .models import _safe_stats

    return np.sqrt(_safe_stats(np.asarray(values))[1]).astype(np.float32)


def _describe(value):
    if isinstance(value, tuple | list):
        return f"a {type(value).__name__} of {len(value)} item(s)"
    return f"an object of type {type(value).__name__}"
