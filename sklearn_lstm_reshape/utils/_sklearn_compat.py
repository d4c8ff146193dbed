"""The one place private scikit-learn names are imported.

scikit-learn moves its private helpers between releases; keeping every such
import here means a new release breaks one file, not every estimator.
"""

from sklearn.base import _fit_context
from sklearn.utils._param_validation import HasMethods, Hidden, Interval, StrOptions
from sklearn.utils.validation import _check_feature_names_in, validate_data

__all__ = [
    "HasMethods",
    "Hidden",
    "Interval",
    "StrOptions",
    "_check_feature_names_in",
    "_fit_context",
    "validate_data",
]
