"""Parameter documentation shared word for word by the estimators.

A docstring names a shared entry as ``{{name}}`` on a line of its own, at the
indentation of its parameter list; :func:`fill_parameter_docs` writes the entry
there, so that each text lives in one place. Lines indented under the marker
continue the entry's description with what is particular to the estimator.
An entry's ``{default}`` is the default of the class's ``__init__``, so that
estimators with different defaults share one text.

The names that ``sparsity`` takes, and those that take ``k``, are read from
the registry (:data:`~._validation.SPARSITIES`) when the package is imported:
a variant registered in :mod:`._codes` (and :mod:`._losses`) is listed with
no edit here; what each does is the sparsity guide's.
"""

import inspect
import re

from ._codes import code_class
from ._validation import SPARSITIES


def _names(names):
    """``{"a", "b"}``, as numpydoc writes a set of options."""
    return "{" + ", ".join(f'"{name}"' for name in names) + "}"


#: The penalties first, then the sparse codes, each in alphabetical order.
_SPARSITY_NAMES = sorted(SPARSITIES, key=lambda name: code_class(name).exactly_sparse)
#: The sparsities whose code keeps ``k`` codes per sample.
_K_NAMES = [name for name in _SPARSITY_NAMES if "k" in code_class(name).estimator_params]
_K_LIST = ", ".join(f'``"{name}"``' for name in _K_NAMES)

PARAMETERS = {
    "sparsity": """sparsity : {options} or None, default={default}
    How the codes are made sparse: by a penalty that the loss adds,
    weighted by ``sparsity_weight``, or by a sparse code that zeroes all
    but a few codes of each sample by construction (with its authors'
    practice: unit-norm dictionary atoms, an identity output by default and
    the AuxK loss for dead units). None trains a plain autoencoder. What
    each name does, and which to choose: :ref:`choosing_sparsity`.""",
    "k": f"""k : int, default={{default}}
    Active codes per sample of the sparse codes that take it
    ({_K_LIST}): the ``k`` largest of each
    sample, or ``k`` per sample on average over a training batch (see
    :ref:`choosing_sparsity`); the other sparsities ignore it. A ``k``
    above the number of units keeps every code, with a UserWarning: the
    codes are then not sparse.""",
    "corruption": """corruption : {"mask", "gaussian"} or None, default=None
    Denoising: during training the autoencoder sees a corrupted input and
    reconstructs the clean one. ``"mask"`` zeroes a random fraction
    ``corruption_level`` of the entries, ``"gaussian"`` adds noise of
    standard deviation ``corruption_level`` (in the data's units) and
    clips the result to the range of the training data (its smallest and
    largest value), so that noisy pixels stay in [0, 1] as they do in
    noisy images.
    Evaluation, early stopping and ``transform`` see clean inputs.""",
    "corruption_level": """corruption_level : float, default=0.1
    Fraction of entries zeroed (``"mask"``, below 1) or standard deviation
    of the added noise (``"gaussian"``).""",
    "contractive_weight": """contractive_weight : float, default=0.0
    Weight of the contractive penalty: the squared Frobenius norm of the
    encoder's Jacobian ``dh/dx`` (closed form for sigmoid and relu
    units), averaged over samples and divided by the number of units.
    0 turns it off.""",
    "code_params": """code_params : dict or None, default=None
    The code's own hyperparameters, by name, for a sparsity whose code
    class declares some (its ``hyperparameters``: a default and
    constraints for each); None, or a name left out, takes the class's
    default. They are checked as scikit-learn checks parameters (an
    ``InvalidParameterError``; a name that the class does not declare is a
    ``ValueError``); a fit that continues (``warm_start``,
    ``partial_fit``) cannot change them; ``code_params_`` records what
    the fit used. Tune them like any parameter:
    ``GridSearchCV(est, {"code_params": [{...}, {...}]})``; see
    :ref:`code_params`.""",
    "auxk_weight": """auxk_weight : float, default={default}
    Weight of the AuxK loss with the sparse codes: units that have not
    fired for a whole epoch (``n_samples`` training samples) are trained
    to reconstruct what the live codes miss, which revives them (their
    gradient reaches the units whose pre-activations are all negative, out
    of relu's reach). Gao et al. (2024) weigh it 1/32, SAELens 1: on MNIST
    (1,024 units) TopK with ``k=32`` left 6.2% of its units firing on no
    test image at 1/32, 2.3% at 1 and 0.7% at 4; JumpReLU 5.6% at 1 and
    3.9% at 4. 0 turns it off.""",
    "validation_fraction": """validation_fraction : float, default=0.1
    Fraction of the training data held out with ``early_stopping``.""",
    "shuffle": """shuffle : bool, default=True
    Shuffle the samples at every epoch.""",
    "random_state": """random_state : int, RandomState instance or None, default=None
    Seeds weight initialisation, shuffling and the validation split
    through a local ``torch.Generator``; torch's global seed is never
    touched. Pass an int for reproducible results.""",
    "device": """device : str or torch.device, default="cpu"
    Where to train and compute: ``"cpu"``, ``"cuda"``, ``"cuda:N"``, a
    :class:`torch.device`, or ``"auto"`` for a GPU when there is one.
    Resolved at ``fit``; dense data move to the device once, sparse data
    one batch at a time.""",
    "matmul_precision": """matmul_precision : {"highest", "high", "medium"}, default="highest"
    The precision of float32 matrix products in ``fit`` and inference, as
    :func:`torch.set_float32_matmul_precision` names them, set for each
    call and restored after it: the estimator's, not what torch was set to
    before, holds during its calls (torch's setting is the process's, so
    that threads fitting at different precisions at once may see each
    other's). ``"highest"``: float32. ``"high"``: TF32 tensor
    cores on a CUDA GPU (products with 10 bits of mantissa, float32 sums).
    ``"medium"``: also bfloat16 products (float32 sums) on a CPU with
    bfloat16 units (Intel AMX), through oneDNN. Weights, gradients, the
    optimizer's state and every other operation stay float32 (the master
    weights of mixed precision); a network in float64 (``compute_dtype``)
    computes in float64, which this does not change, and convolutions
    follow torch's own cuDNN setting (``torch.backends.cudnn.allow_tf32``). On 20,000 MNIST images
    (float32) and an AMX CPU, ``"medium"`` took 0.73 times the seconds per
    epoch of a 1,024-unit transformer and 0.80 times those of a (512, 512)
    stacked classifier, to the same accuracies; small models (the digits
    through 256 units) are computed as in float32
    (``benchmarks/bench_precision.py``).""",
    "compute_dtype": """compute_dtype : {"float32", "float64"} or None, default={default}
    The dtype of the network's weights and of training's arithmetic,
    whatever the data's (converted a batch at a time where they stream).
    Results (codes, reconstructions, scores, probabilities, fills) come back
    in the data's float dtype, as scikit-learn's estimators return them;
    float64 data meet a float64 copy of float32 weights at inference, so
    that a row's result does not depend on the rows beside it in a batch
    (float32 products round by the batch's size, to some 1e-7).
    ``"float32"`` is PyTorch's own precision and the one GPUs compute fast:
    on a CPU its products take about half the time of float64's (an
    optimizer step of the digits through 256 units: 0.87 ms against 1.47,
    ``benchmarks/bench_small_step.py``), and every accuracy of the digits'
    benchmark tables stayed the same to four decimals. ``"float64"`` for
    work that needs its precision (gradient checks, ill-conditioned data);
    None: the data's float dtype (float32 stays float32, anything else
    computes in float64), as scikit-learn's MLPs compute. The fitted
    weights are in this dtype.""",
}

_MARKER = re.compile(r"^(?P<indent>[ ]*)\{\{(?P<name>\w+)\}\}$", re.MULTILINE)


def fill_parameter_docs(cls):
    """Class decorator: replace each ``{{name}}`` line of ``cls.__doc__`` by
    the shared entry ``PARAMETERS[name]``, indented as the marker."""

    defaults = inspect.signature(cls.__init__).parameters

    def entry(match):
        indent, name = match["indent"], match["name"]
        text = PARAMETERS[name]
        if "{default}" in text:
            text = text.replace("{default}", _default(defaults[name].default))
        if "{options}" in text:  # the sparsities, and "auto" where it is the default
            auto = ["auto"] if defaults[name].default == "auto" else []
            text = text.replace("{options}", _names([*auto, *_SPARSITY_NAMES]))
        return "\n".join(indent + line for line in text.splitlines())

    cls.__doc__ = _MARKER.sub(entry, cls.__doc__)
    return cls


def _default(value):
    """A default as numpydoc writes it: strings in double quotes."""
    return f'"{value}"' if isinstance(value, str) else repr(value)
