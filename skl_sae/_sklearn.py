"""scikit-learn's private helpers that the estimators use, in one place.

Each is private in scikit-learn and may move; importing them here alone means
one file to change when it does. Why each, rather than a public equivalent:

- ``_fit_context`` validates the parameters once per ``fit`` and sets the
  global configuration for nested estimators, as every scikit-learn
  estimator does; there is no public decorator for it.
- ``_BaseImputer`` and ``_get_mask`` give the imputer scikit-learn's
  ``missing_values``, ``add_indicator`` and ``keep_empty_features``
  conventions exactly as ``SimpleImputer`` and ``IterativeImputer`` have them.
- ``_check_feature_names_in`` resolves ``get_feature_names_out``'s input
  names as scikit-learn's transformers do.
- ``_check_partial_fit_first_call`` is the classifiers' ``partial_fit``
  contract for ``classes``.
- ``_openmp_effective_n_threads`` is the number of CPUs scikit-learn itself
  would use (cgroup quotas and ``OMP_NUM_THREADS`` included).
- ``is_scalar_nan`` tells NaN as ``missing_values`` apart, as the imputers do.
- ``get_namespace_and_device`` and ``move_to`` read an input's Array API
  namespace and device and move arrays between namespaces exactly as
  scikit-learn's estimators and its ``check_array_api_input`` do (through
  ``array_api_compat``, which scikit-learn vendors); no public function
  does.
- ``Interval``, ``StrOptions``, ``MissingValues`` and
  ``validate_parameter_constraints`` declare and check parameters the
  scikit-learn way (``_parameter_constraints``).
"""

from sklearn.base import _fit_context
from sklearn.impute._base import _BaseImputer, _get_mask
from sklearn.utils._array_api import get_namespace_and_device, move_to
from sklearn.utils._missing import is_scalar_nan
from sklearn.utils._openmp_helpers import _openmp_effective_n_threads
from sklearn.utils._param_validation import (
    Interval,
    MissingValues,
    StrOptions,
    validate_parameter_constraints,
)
from sklearn.utils.multiclass import _check_partial_fit_first_call
from sklearn.utils.validation import _check_feature_names_in

__all__ = [
    "Interval",
    "MissingValues",
    "StrOptions",
    "_BaseImputer",
    "_check_feature_names_in",
    "_check_partial_fit_first_call",
    "_fit_context",
    "_get_mask",
    "_openmp_effective_n_threads",
    "get_namespace_and_device",
    "is_scalar_nan",
    "move_to",
    "validate_parameter_constraints",
]
