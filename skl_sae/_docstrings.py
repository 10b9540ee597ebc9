"""Parameter documentation shared word for word by the estimators.

A docstring names a shared entry as ``{{name}}`` on a line of its own, at the
indentation of its parameter list; :func:`fill_parameter_docs` writes the entry
there, so that each text lives in one place.
"""

import re

PARAMETERS = {
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
    class declares some (its ``hyperparameters``); None takes the class's
    defaults, and ``code_params_`` records what the fit used. Tune them
    like any parameter, e.g. ``GridSearchCV(est, {"code_params": [{...},
    {...}]})``; see the sparsity guide.""",
    "auxk_weight": """auxk_weight : float, default=1/32
    Weight of the AuxK loss with the sparse codes: units that have not
    fired for a whole epoch (``n_samples`` training samples) are trained
    to reconstruct what the live codes miss, which revives them. 1/32 as
    in Gao et al. (2024); 0 turns it off.""",
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
}

_MARKER = re.compile(r"^(?P<indent>[ ]*)\{\{(?P<name>\w+)\}\}$", re.MULTILINE)


def fill_parameter_docs(cls):
    """Class decorator: replace each ``{{name}}`` line of ``cls.__doc__`` by
    the shared entry ``PARAMETERS[name]``, indented as the marker."""

    def entry(match):
        indent = match["indent"]
        return "\n".join(indent + line for line in PARAMETERS[match["name"]].splitlines())

    cls.__doc__ = _MARKER.sub(entry, cls.__doc__)
    return cls
