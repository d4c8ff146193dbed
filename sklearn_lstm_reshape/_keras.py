"""The only module that imports keras.

Keras is imported on first use, never when the package is imported. Keras 3
fails at import when no backend is configured and TensorFlow is absent, so
before that first import this module picks an installed backend itself,
unless the user already chose one.
"""

import collections
import contextlib
import hashlib
import importlib.util
import json
import logging
import os
import random
import sys
import threading
import weakref
import zipfile
from pathlib import Path

import numpy as np

from . import _cache

logger = logging.getLogger("sklearn_lstm_reshape")

# The order in which an installed backend is picked when none is configured:
# jax is the lightest install and the fastest to import on a CPU.
_BACKEND_PREFERENCE = ("jax", "tensorflow", "torch")
_BACKEND_MODULES = {"jax": "jax", "tensorflow": "tensorflow", "torch": "torch"}

_import_lock = threading.Lock()
_seeded_lock = threading.RLock()
# The seed of the seeded block the current thread is in (see shuffled_order).
_active_seed = threading.local()


def _backend_is_installed(name):
    module = _BACKEND_MODULES.get(name)
    return module is not None and importlib.util.find_spec(module) is not None


def _configured_backend():
    """The backend named by ``KERAS_BACKEND`` or by ``keras.json``, if any."""
    if os.environ.get("KERAS_BACKEND"):
        return os.environ["KERAS_BACKEND"]
    keras_home = os.environ.get("KERAS_HOME") or Path.home() / ".keras"
    config = Path(keras_home) / "keras.json"
    try:
        return json.loads(config.read_text()).get("backend")
    except (OSError, ValueError):
        return None


def choose_backend():
    """Make sure ``import keras`` will find a usable backend.

    ``KERAS_BACKEND`` always wins. A backend named in ``keras.json`` is kept when
    it is installed; Keras writes "tensorflow" there on its first import even
    when another backend was chosen, so that file alone is no evidence that
    TensorFlow is wanted. Otherwise the first installed of jax, tensorflow and
    torch is written into ``os.environ`` so that joblib workers inherit it.

    Returns
    -------
    backend : str or None
        The backend Keras will use, or None when none is installed.
    """
    if os.environ.get("KERAS_BACKEND"):
        return os.environ["KERAS_BACKEND"]
    configured = _configured_backend()
    if configured and _backend_is_installed(configured):
        return configured
    for name in _BACKEND_PREFERENCE:
        if _backend_is_installed(name):
            os.environ["KERAS_BACKEND"] = name
            logger.info(
                "No usable Keras backend is configured; using %r. Set the "
                "KERAS_BACKEND environment variable to choose another.",
                name,
            )
            return name
    return None


def import_keras():
    """Import keras, choosing a backend first if none is configured."""
    with _import_lock:
        if "keras" not in sys.modules:
            if choose_backend() is None:
                raise ImportError(
                    "sklearn_lstm_reshape needs a Keras backend, and none of "
                    "jax, tensorflow or torch is installed. Install one, for "
                    'example: pip install "sklearn-lstm-reshape[jax]".'
                )
        import keras

    return keras


def is_keras_model(obj):
    """True when ``obj`` is a Keras model, without importing keras for it."""
    if "keras" not in sys.modules:
        return False
    return isinstance(obj, import_keras().Model)


def load_model(path):
    """Load a ``.keras`` file, reusing the model while the file is unchanged."""
    path = Path(path).expanduser()
    if path.suffix != ".keras":
        raise ValueError(
            f"model={str(path)!r} is not a .keras file. Save the model with "
            "model.save('name.keras') and pass that path, or pass the "
            "keras.Model itself."
        )
    _check_keras_file(path)
    # compile=False: the model is only run forward, and a model compiled under
    # one backend may not load its compile state under another.
    return _cache.memoize(
        _cache.loaded_models,
        _cache.file_key(path),
        lambda: import_keras().models.load_model(path, compile=False),
    )


def _check_keras_file(path):
    """Refuse a path that cannot hold a saved model, saying what it holds instead."""
    name = f"model={str(path)!r}"
    fix = "Pass the path of a file saved with model.save('name.keras'), or the keras.Model."
    if path.is_dir():
        raise ValueError(f"{name} is a directory, not a .keras file. {fix}")
    if not path.exists():
        raise ValueError(f"{name} does not exist. {fix}")
    if not zipfile.is_zipfile(path):
        raise ValueError(
            f"{name} is not a Keras archive: a .keras file is a zip archive, and "
            f"this file is not one (a text file, or a copy cut short?). {fix}"
        )
    try:
        with zipfile.ZipFile(path) as archive:
            names = set(archive.namelist())
            damaged = archive.testzip()
    except (zipfile.BadZipFile, OSError) as error:
        raise ValueError(f"{name} is a damaged zip archive ({error}). {fix}") from None
    if damaged is not None:
        raise ValueError(f"{name} is a damaged zip archive (its {damaged!r} is corrupt). {fix}")
    if "config.json" not in names:
        raise ValueError(
            f"{name} is a zip archive without a Keras model in it (no config.json; "
            f"it holds {', '.join(sorted(names)[:5]) or 'nothing'}). {fix}"
        )


@contextlib.contextmanager
def seeded(random_state):
    """Seed Python, NumPy and Keras for the block, then restore their state.

    ``random_state`` is an int (reproducible), or None (leave the global
    random state alone, as scikit-learn does). Seeded blocks take turns
    across threads: NumPy's and Python's generators are global, so two
    trainings at once would draw from each other's sequence.

    A thread outside any seeded block may still draw from those global
    generators meanwhile (a dask worker's own threads do): the seeds Keras
    draws for its layers' initialisers then come from a generator of the
    block's own, and training shuffles by :func:`shuffled_order`, so that a
    seeded training is the same whatever other threads do (measured: one
    thread drawing from ``random`` or ``np.random`` while a default model
    trained gave other weights on every run).
    """
    if random_state is None:
        yield
        return
    keras = import_keras()
    from keras.src.backend.common import global_state
    from keras.src.random import seed_generator

    with _seeded_lock:
        saved_keras = {
            name: global_state.get_global_attribute(name)
            for name in ("global_random_seed", "global_seed_generator")
        }
        saved_python = random.getstate()
        # keras.utils.set_random_seed seeds NumPy's legacy global state: save it.
        saved_numpy = np.random.get_state()  # noqa: NPY002
        saved_torch = None
        if keras.backend.backend() == "torch":
            import torch

            saved_torch = torch.random.get_rng_state()
        keras.utils.set_random_seed(int(random_state))
        # Keras draws the seed of every initialiser and seed generator made
        # without one from Python's global generator (``make_default_seed``).
        saved_python_random = getattr(seed_generator, "python_random", None)
        if saved_python_random is not None:
            seed_generator.python_random = random.Random(int(random_state))
        outer_seed = getattr(_active_seed, "value", None)
        _active_seed.value = int(random_state)
        try:
            yield
        finally:
            _active_seed.value = outer_seed
            if saved_python_random is not None:
                seed_generator.python_random = saved_python_random
            for name, value in saved_keras.items():
                global_state.set_global_attribute(name, value)
            random.setstate(saved_python)
            np.random.set_state(saved_numpy)  # noqa: NPY002
            if saved_torch is not None:
                import torch

                torch.random.set_rng_state(saved_torch)


def shuffled_order(n_samples, n_epochs):
    """The order of the samples in each epoch of a training: drawn from a
    generator of the enclosing :func:`seeded` block's seed (not NumPy's
    global one, which other threads may draw from), or unseeded outside one.

    Yields one int array of shape (n_samples,) per epoch, drawn as it is
    needed (all epochs at once would be n_epochs times the samples).
    """
    rng = np.random.default_rng(getattr(_active_seed, "value", None))
    for _ in range(n_epochs):
        yield rng.permutation(n_samples)


def seed_from(random_state):
    """An int seed for Keras drawn from a scikit-learn ``random_state``."""
    from sklearn.utils import check_random_state

    if random_state is None:
        return None
    if isinstance(random_state, int | np.integer):
        return int(random_state)
    return int(check_random_state(random_state).randint(np.iinfo(np.int32).max))


def model_input_shape(model):
    """The shape of one input sample, e.g. ``(window, n_features)``.

    Dimensions the model leaves free are None. A subclassed model declares no
    inputs, so all its dimensions are free: its first forward pass checks them.
    """
    try:
        shapes = model.inputs
    except AttributeError:
        return (None, None)
    if shapes is None or len(shapes) != 1:
        raise ValueError(
            f"model must take exactly one input, a batch of windows of shape "
            f"(batch, window, n_features); the given model takes "
            f"{0 if shapes is None else len(shapes)} inputs."
        )
    return tuple(shapes[0].shape[1:])


def model_output_shape(model, input_shape):
    """The shape of the model's output for one sample of ``input_shape``."""
    keras = import_keras()
    spec = keras.KerasTensor((1, *input_shape), dtype="float32")
    output = model.compute_output_spec(spec)
    if isinstance(output, list | tuple) or not hasattr(output, "shape"):
        raise ValueError(
            "model must return a single tensor per window; the given model returns several outputs."
        )
    return tuple(output.shape[1:])


_model_locks = weakref.WeakKeyDictionary()
_model_locks_lock = threading.Lock()
_unreferenced_model_lock = threading.RLock()


def model_lock(model):
    """The lock that serialises the calls into one Keras model object.

    Keras's ``predict`` and ``fit`` build and swap the model's compiled
    function and its state on first use, so two threads in one model at once
    can find it half-built (``'NoneType' object is not callable``) and leave
    it broken; one lock per model object makes them take turns, while
    different models still run at once.
    """
    with _model_locks_lock:
        try:
            lock = _model_locks.get(model)
            if lock is None:
                lock = _model_locks[model] = threading.RLock()
        except TypeError:  # an object that cannot be weakly referenced
            lock = _unreferenced_model_lock
        return lock


class _SavedUnderLock:
    """A Keras model's pickled form, taken while no other thread is in the model.

    Keras empties a model's variables while it predicts or trains, and
    pickling saves them: a model pickled by one thread while another predicts
    (a dask worker sending an estimator to another worker while it transforms
    a chunk) fails with ``'NoneType' object is not callable``. Unpickles as
    the model itself, built once per process that hosts a dask worker (see
    ``_unpickled_model``).
    """

    def __init__(self, model):
        with model_lock(model):
            self._reduced = model.__reduce__()
            self._digest = _model_digest(model)

    def __reduce__(self):
        return _unpickled_model, (self._digest, *self._reduced)


def _model_digest(model):
    """A digest of a model's architecture and weights (not of its saved file,
    which holds the time it was saved)."""
    digest = hashlib.sha256(model.to_json().encode())
    for weight in model.get_weights():
        digest.update(np.ascontiguousarray(weight).tobytes())
    return digest.hexdigest()


# Models built from their pickled form in a process that hosts a dask worker,
# by digest, the most recently used last.
_worker_models = collections.OrderedDict()
_worker_models_lock = threading.Lock()
WORKER_MODELS = 8


def _unpickled_model(digest, rebuild, args):
    """The model ``rebuild(*args)`` builds from its pickled form.

    In a process that hosts a dask worker, each distinct model is built once
    and given to every estimator unpickled with it, as ``clone`` shares a
    model: a grid search sends every candidate with the frozen model, and
    building it again (and compiling its forward pass again) per candidate
    would cost more than the fit of a small candidate.
    """
    if not _hosts_a_dask_worker():
        return rebuild(*args)
    with _worker_models_lock:
        model = _worker_models.get(digest)
        if model is None:
            model = _worker_models[digest] = rebuild(*args)
            while len(_worker_models) > WORKER_MODELS:
                _worker_models.popitem(last=False)
        _worker_models.move_to_end(digest)
    return model


def _hosts_a_dask_worker():
    if "distributed" not in sys.modules:
        return False
    from distributed import Worker

    return bool(Worker._instances)


def saved_under_lock(value, memo=None):
    """``value`` with every Keras model in it (in dicts, lists and tuples too)
    replaced by its pickled form taken under the model's lock; a model met
    twice is saved once, so it unpickles as one object."""
    memo = {} if memo is None else memo
    if is_keras_model(value):
        if id(value) not in memo:
            memo[id(value)] = _SavedUnderLock(value)
        return memo[id(value)]
    if isinstance(value, dict):
        return {key: saved_under_lock(item, memo) for key, item in value.items()}
    if type(value) in (list, tuple):
        return type(value)(saved_under_lock(item, memo) for item in value)
    return value


def weight_stamps(model):
    """One ``(object, version)`` pair per weight that changes when the weight is
    assigned, read without copying any weight; None when the backend has none.

    On JAX (and NumPy) an assignment replaces a variable's array, so the array
    object itself tells; torch counts in-place updates of a parameter in its
    ``_version``. TensorFlow updates variables in place with no counter, so
    there the weights have to be read (None).
    """
    backend = import_keras().backend.backend()
    if backend in ("jax", "numpy"):
        return [(weight.value, 0) for weight in model.weights]
    if backend == "torch":
        return [(weight.value, weight.value._version) for weight in model.weights]
    return None


def output_activation(model):
    """The name of the activation the model's last layer applies, or None.

    Tells a classifier (``"softmax"`` or ``"sigmoid"``) from a regressor by
    how the model was built, not by its outputs on some data.
    """
    layers = getattr(model, "layers", None)
    if not layers:
        return None
    last = layers[-1]
    if type(last).__name__ == "Softmax":
        return "softmax"
    activation = getattr(last, "activation", None)
    name = getattr(activation, "__name__", None)
    return name if name in ("softmax", "sigmoid") else None


def model_classes(model, n_outputs):
    """The classes a model with ``n_outputs`` values predicts, or None for a
    regressor: a softmax over several outputs, or one sigmoid (two classes)."""
    activation = output_activation(model)
    if activation == "softmax" and n_outputs > 1:
        return np.arange(n_outputs)
    if activation in ("sigmoid", "softmax") and n_outputs == 1:
        return np.arange(2)
    return None


def input_gradient(model, inputs, objective):
    """The gradient of ``sum(objective(model(inputs)))`` with respect to ``inputs``.

    ``objective`` maps the model's output tensor to one value per sample
    with ``keras.ops``. The model is run in inference mode; its weights are
    not touched.
    """
    keras = import_keras()
    backend = keras.backend.backend()
    inputs = np.ascontiguousarray(inputs, dtype=np.float32)

    def total(outputs):
        return keras.ops.sum(objective(outputs))

    with model_lock(model):
        if backend == "jax":
            import jax

            trainable = [v.value for v in model.trainable_variables]
            fixed = [v.value for v in model.non_trainable_variables]

            def value(x):
                return total(model.stateless_call(trainable, fixed, x, training=False)[0])

            return np.asarray(jax.grad(value)(inputs))
        if backend == "tensorflow":
            import tensorflow as tf

            x = tf.convert_to_tensor(inputs)
            with tf.GradientTape() as tape:
                tape.watch(x)
                out = total(model(x, training=False))
            return tape.gradient(out, x).numpy()
        if backend == "torch":
            import torch

            x = torch.tensor(inputs, requires_grad=True)
            total(model(x, training=False)).backward()
            return x.grad.detach().cpu().numpy()
    raise ValueError(f"Gradients are not available on the {backend!r} backend; use jax.")
