"""Docstring texts every estimator shares, written once.

A docstring line that holds only ``{{name}}`` is replaced by the text of
``name`` below, indented like the placeholder (each text is a format
string: its literal braces are doubled, its blanks filled by the
placeholder's arguments): ``@fill_doc`` on a class or a
function does it at import time, so the rendered docs and ``help()`` show
the whole text, and numpydoc validates it like any other.
"""

import re
import textwrap

_TEXTS = {
    "model": """\
model : keras.Model, str, os.PathLike or None, default=None
    The fitted Keras model: a ``keras.Model``, the path of a ``.keras``
    file, or None to build an LSTM forecaster and train it on X in
    ``fit`` (see :func:`~sklearn_lstm_reshape.models.train_forecaster`),
    sized by ``units`` and trained for ``epochs``. A given model is
    frozen: it is never trained or modified. A path is loaded in Keras's
    safe mode; a pickled estimator restores its models without it, so
    unpickle only estimators you trust (see
    :ref:`the user guide <persistence>`).""",
    "window": """\
window : int or None, default=None
    Rows per window when X is a 2-D series. None takes the model's input
    length, or 24 when the model accepts any length. Ignored for a 3-D
    panel (see :ref:`data_conventions`), whose sequences are the windows.""",
    "overlap": """\
overlap : {{"mean", "last"}}, default="mean"
    How a 2-D series is rebuilt from its rewritten windows, which overlap.
    ``"mean"`` averages every window that covers a row (overlap-add):
    smooth, but each row mixes the edits of ``window`` neighbouring
    windows. ``"last"`` takes each row from the window that ends at it,
    the window whose prediction (for a forecaster, of the next row)
    depends on it most: less smooth, and the edit of each window is kept
    whole at its last row. Ignored for a 3-D panel.""",
    "units": """\
units : int, default=32
    Units of the layers of every network ``fit`` trains (see ``epochs``).""",
    "epochs": """\
epochs : int, default={default}
    Training epochs of every network ``fit`` trains: the default
    forecaster when ``model=None``, and the estimator's own {network}.""",
    "batch_size": """\
batch_size : int, default=64
    Windows per gradient step of the {network} trained in ``fit``.""",
    "predict_batch_size": """\
predict_batch_size : int, default=4096
    Windows per forward pass of a network over data. Larger batches are
    faster and use more memory; for windows longer than 32 rows the batch
    is lowered so that one pass holds at most 131,072 timesteps.""",
    "renamed": """\
The old name of ``{new}``.

.. deprecated:: 0.2
   Renamed ``{new}``; ``{old}`` will be removed in 0.3.""",
    "bounds": """\
bounds : "training", (low, high) or None, default="training"
    The range every value {written} keeps to, per feature:
    ``"training"`` the range of each feature in ``fit`` (no negative
    rain, no temperature beyond the record), a pair of arrays
    broadcastable to ``(n_features,)``, or None for no bound. A value of
    X already beyond the range may stay where it is but is never moved
    further out.

    .. versionadded:: 0.2""",
    "verbose": """\
verbose : int, default=0
    Print training and prediction progress when > 0.""",
    "random_state": """\
random_state : int, RandomState instance or None, default=None
    Seeds every network ``fit`` trains{draws}. An int makes ``fit`` and
    ``transform`` reproducible; None leaves the global random state alone.""",
    "fitted_model": """\
model_ : keras.Model
    The model used: the given one, the loaded one, or the trained default.""",
    "window_": """\
window_ : int or None
    Window length used for 2-D series (None when fitted on a panel).""",
    "n_features_in_": """\
n_features_in_ : int
    Number of features seen during ``fit``.

feature_names_in_ : ndarray of shape (`n_features_in_`,)
    Names of features seen during ``fit``, when X has string column
    names.""",
    "window_shape": """\
window : int
    Timesteps per window.
n_features : int
    Features per timestep.""",
    "code_size": """\
latent_dim : int, default=8
    Size of the code.
units : int, default=32
    Units of the LSTM and dense layers.""",
    "training": """\
epochs : int, default={epochs}
batch_size : int, default=64
learning_rate : float, default={rate}
random_state : int or None, default=None
    Seed of the weights{draws}.
verbose : int, default=0
    0 is silent, 1 prints a line per epoch, 2 a progress bar.""",
    "X": """\
X : array-like of shape (n_timesteps, n_features) or (n_sequences, timesteps, n_features)
    One series, or a panel of sequences, shaped like the data seen in
    ``fit``.""",
}

# The Parameters section of a method whose one parameter is X.
_TEXTS["only_X"] = "Parameters\n----------\n" + _TEXTS["X"]

_PLACEHOLDER = re.compile(
    r"^(?P<indent>[ ]*)\{\{(?P<name>\w+)(?P<args>(?:\s+\w+=[^}]*)*)\}\}$", re.M
)
_ARGUMENT = re.compile(r"(\w+)=(\"[^\"]*\"|\S+)")


def fill_doc(obj):
    """Replace the ``{{name}}`` lines of ``obj``'s docstring with shared texts.

    A placeholder may fill the blanks of its text: ``{{epochs default=30
    network="CVAE"}}``.
    """

    def text(match):
        shared = _TEXTS[match["name"]]
        arguments = {key: value.strip('"') for key, value in _ARGUMENT.findall(match["args"] or "")}
        shared = shared.format(**arguments)  # a missing blank raises KeyError
        return textwrap.indent(shared, match["indent"], lambda line: bool(line.strip()))

    obj.__doc__ = _PLACEHOLDER.sub(text, obj.__doc__)
    return obj
