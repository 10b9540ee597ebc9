"""Warnings that point at the user's line, not at this package's.

A warning issued deep inside a fit (the loop's ``ConvergenceWarning``, a
divergence, a clipped parameter) is reported at the first frame of the call
stack outside skl_sae and scikit-learn: the user's ``fit`` call, or their
``Pipeline.fit`` or ``GridSearchCV.fit``, as scikit-learn's own warnings are.
"""

import os
import sys
import warnings

_PACKAGE = os.path.dirname(os.path.abspath(__file__))


def _library_directories():
    """skl_sae's directory, and scikit-learn's if it is imported."""
    directories = [_PACKAGE]
    sklearn = sys.modules.get("sklearn")
    if sklearn is not None and getattr(sklearn, "__file__", None):
        directories.append(os.path.dirname(os.path.abspath(sklearn.__file__)))
    return tuple(directory + os.sep for directory in directories)


def user_stacklevel():
    """The ``stacklevel`` at which ``warnings.warn``, called by the caller of
    this function, reports the first frame outside skl_sae and scikit-learn."""
    libraries = _library_directories()
    frame, level = sys._getframe(1), 1
    while frame is not None and os.path.abspath(frame.f_code.co_filename).startswith(libraries):
        frame, level = frame.f_back, level + 1
    return level


def warn(message, category=UserWarning):
    """``warnings.warn(message, category)`` at the user's line."""
    warnings.warn(message, category, stacklevel=user_stacklevel())
