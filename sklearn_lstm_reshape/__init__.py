"""Reshape the input data X with the predictions of a fitted Keras LSTM.

The estimators are scikit-learn transformers: they fit in a ``Pipeline``,
are tuned with ``GridSearchCV`` and compared with ``cross_val_score``.
Importing this package does not import Keras; that happens on first use.
"""

from ._cache import clear_cache
from ._counterfactual import CounterfactualReshaper
from ._generative import GenerativeReshaper
from ._latent import LatentReshaper
from ._threshold import ThresholdReshaper

__version__ = "0.2.0.dev0"

__all__ = [
    "CounterfactualReshaper",
    "GenerativeReshaper",
    "LatentReshaper",
    "ThresholdReshaper",
    "__version__",
    "clear_cache",
]
