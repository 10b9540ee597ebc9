"""SAELens as a reference implementation: its training SAEs fitted on an
in-memory array, for side-by-side benchmarks with skl_sae.

SAELens is never a dependency of skl_sae. It lives in its own environment
(made from ``benchmarks/requirements-reference.txt``, with skl_sae installed
there in editable mode: see ``bench_reference_saes.py``), so one benchmark
process run with that environment's Python can fit both libraries. This module imports SAELens only
inside :func:`train_saelens`, so importing it elsewhere does not fail.

SAELens trains its SAEs with ``SAETrainer``, fed by a language model's
activations. What it does at each step is replicated here on the rows of an
array, shuffled once per epoch:

- ``sae.training_forward_pass(TrainStepInput(...))`` with the dead-latent mask
  (a latent is dead once it has not fired for more than the trainer's
  ``dead_feature_window`` steps) and the loss coefficients (the JumpReLU L0
  coefficient, warmed up by SAELens's own ``CoefficientScheduler``); the SAE
  itself computes the MSE, the auxiliary loss of dead latents (TopK,
  BatchTopK, Matryoshka) or the L0 loss (JumpReLU), the inner Matryoshka
  losses, and updates the BatchTopK threshold and clamps the JumpReLU one;
- the firing counts kept for that mask, updated before the backward pass as
  the trainer does;
- ``loss.backward()``, the gradient norm clipped to 1, an Adam step with the
  trainer's betas, and SAELens's learning-rate schedule (``get_lr_scheduler``,
  constant with no warm-up or decay by default).

The trainer's defaults (betas, schedule, warm-up and decay steps, dead
window) are read from ``sae_lens.config.SAETrainerConfig`` at run time, so
they follow the installed release. Left out: the activation store and its
language model, the ``expected_average_only_in`` and ``covariance_whitening``
normalizations that the trainer estimates and folds (the SAEs' default is
``"none"``), autocast, checkpoints, W&B logging and the evaluations. No
SAELens SAE renormalizes its decoder during training, so there is no call per
step for it: TopK-family SAEs divide by the decoder norms in the forward pass
(``rescale_acts_by_decoder_norm``) instead.

After training, the SAE is turned into the inference SAE that SAELens saves
(``process_state_dict_for_saving_inference`` and
``get_inference_sae_cfg_dict``, as in ``save_inference_model``, kept in
memory): the decoder norms folded into the encoder for the TopK family, and
BatchTopK and Matryoshka SAEs saved as JumpReLU SAEs whose threshold is the
running ``topk_threshold``. Their codes are thus those of a per-latent
threshold, not of a batch-wide top-k.
"""

import dataclasses
import time
from contextlib import contextmanager

import numpy as np
import torch

SETUP = "the docstring of benchmarks/bench_reference_saes.py"
SPARSITIES = ("topk", "batchtopk", "jumprelu", "matryoshka")
_ENCODE_ROWS = 4096


@contextmanager
def _one_thread():
    """Run torch on one thread inside, as skl_sae does by default."""
    previous = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        yield
    finally:
        torch.set_num_threads(previous)


def _import_sae_lens():
    """Import SAELens, or raise an ImportError that says where to get it."""
    try:
        import sae_lens
    except ImportError as error:
        raise ImportError(
            "SAELens is not installed in this Python environment. It is a reference for "
            "the benchmarks only, never a dependency of skl_sae: run the benchmark with "
            f"the Python of the environment that {SETUP} describes."
        ) from error
    return sae_lens


def default_learning_rate():
    """The learning rate of SAELens's runner config, its default for training."""
    from sae_lens import LanguageModelSAERunnerConfig

    fields = dataclasses.fields(LanguageModelSAERunnerConfig)
    return next(field.default for field in fields if field.name == "lr")


def _build_sae(sparsity, n_features, n_latents, k, matryoshka_widths, l0_coefficient, sae_options):
    """The SAELens training SAE and its config, with the library's defaults
    except for the arguments given."""
    from sae_lens import (
        BatchTopKTrainingSAE,
        BatchTopKTrainingSAEConfig,
        JumpReLUTrainingSAE,
        JumpReLUTrainingSAEConfig,
        MatryoshkaBatchTopKTrainingSAE,
        MatryoshkaBatchTopKTrainingSAEConfig,
        TopKTrainingSAE,
        TopKTrainingSAEConfig,
    )

    classes = {
        "topk": (TopKTrainingSAE, TopKTrainingSAEConfig),
        "batchtopk": (BatchTopKTrainingSAE, BatchTopKTrainingSAEConfig),
        "jumprelu": (JumpReLUTrainingSAE, JumpReLUTrainingSAEConfig),
        "matryoshka": (MatryoshkaBatchTopKTrainingSAE, MatryoshkaBatchTopKTrainingSAEConfig),
    }
    sae_class, config_class = classes[sparsity]
    options = {"d_in": n_features, "d_sae": n_latents, "dtype": "float32", "device": "cpu"}
    options.update(sae_options or {})
    if k is not None:
        options["k"] = k
    if l0_coefficient is not None:
        options["l0_coefficient"] = float(l0_coefficient)
    if matryoshka_widths is not None:
        widths = [int(width) for width in matryoshka_widths]
        if widths[-1] != n_latents:
            # SAELens appends this level itself, with a warning.
            widths.append(n_latents)
        options["matryoshka_widths"] = widths
    config = config_class(**options)
    return sae_class(config), config


def _trainer_defaults():
    """The defaults of SAELens's ``SAETrainerConfig`` that a training step uses."""
    from sae_lens.config import SAETrainerConfig

    fields = {field.name: field.default for field in dataclasses.fields(SAETrainerConfig)}
    names = (
        "lr_scheduler_name",
        "lr_warm_up_steps",
        "lr_decay_steps",
        "n_restart_cycles",
        "adam_beta1",
        "adam_beta2",
        "dead_feature_window",
    )
    return {name: fields[name] for name in names}


def _fit(sae, X, *, epochs, batch_size, lr, seed, trainer):
    """Train ``sae`` on the rows of ``X`` (a float32 tensor) as SAELens's
    ``SAETrainer._train_step`` does; returns the number of steps."""
    from sae_lens.saes.sae import TrainCoefficientConfig, TrainStepInput
    from sae_lens.training.optim import CoefficientScheduler, get_lr_scheduler

    n_samples = X.shape[0]
    steps_per_epoch = -(-n_samples // batch_size)
    total_steps = epochs * steps_per_epoch
    optimizer = torch.optim.Adam(
        sae.parameters(), lr=lr, betas=(trainer["adam_beta1"], trainer["adam_beta2"])
    )
    # SAELens sets lr_end to lr / 10 when it is not given (LanguageModelSAERunnerConfig).
    scheduler = get_lr_scheduler(
        trainer["lr_scheduler_name"],
        optimizer=optimizer,
        training_steps=total_steps,
        lr=lr,
        warm_up_steps=trainer["lr_warm_up_steps"],
        decay_steps=trainer["lr_decay_steps"],
        lr_end=lr / 10,
        num_cycles=trainer["n_restart_cycles"],
    )
    coefficients = {}
    for name, coefficient in sae.get_coefficients().items():
        if not isinstance(coefficient, TrainCoefficientConfig):
            coefficient = TrainCoefficientConfig(value=coefficient, warm_up_steps=0)
        coefficients[name] = CoefficientScheduler(
            warm_up_steps=coefficient.warm_up_steps, final_value=coefficient.value
        )
    since_fired = torch.zeros(sae.cfg.d_sae)
    generator = torch.Generator().manual_seed(seed)
    sae.train()
    step = 0
    for _ in range(epochs):
        order = torch.randperm(n_samples, generator=generator)
        for start in range(0, n_samples, batch_size):
            batch = X[order[start : start + batch_size]]
            output = sae.training_forward_pass(
                TrainStepInput(
                    sae_in=batch,
                    coefficients={name: s.value for name, s in coefficients.items()},
                    dead_neuron_mask=(since_fired > trainer["dead_feature_window"]).bool(),
                    n_training_steps=step,
                    is_logging_step=False,
                )
            )
            with torch.no_grad():
                fired = output.feature_acts.bool().float().sum(-2).bool()
                if fired.is_sparse:
                    fired = fired.to_dense()
                since_fired += 1
                since_fired[fired] = 0
            output.loss.backward()
            torch.nn.utils.clip_grad_norm_(sae.parameters(), 1.0)
            optimizer.step()
            optimizer.zero_grad()
            scheduler.step()
            for coefficient in coefficients.values():
                coefficient.step()
            step += 1
    return step


def _inference_sae(sae):
    """The inference SAE that ``sae.save_inference_model`` would write, built in memory."""
    from sae_lens import SAE

    state = {name: tensor.detach().clone() for name, tensor in sae.state_dict().items()}
    sae.process_state_dict_for_saving_inference(state)
    inference = SAE.from_dict(sae.cfg.get_inference_sae_cfg_dict())
    inference.load_state_dict(state)
    return inference.eval()


def _batched(function, array):
    """Apply a torch function to float32 rows of ``array`` in chunks, on one thread."""
    array = np.asarray(array, dtype=np.float32)
    with _one_thread(), torch.no_grad():
        parts = [
            function(torch.from_numpy(array[start : start + _ENCODE_ROWS])).numpy()
            for start in range(0, array.shape[0], _ENCODE_ROWS)
        ]
    return np.concatenate(parts)


def train_saelens(
    X,
    *,
    sparsity,
    n_latents,
    k=None,
    epochs,
    batch_size,
    lr,
    seed=0,
    matryoshka_widths=None,
    l0_coefficient=None,
    sae_options=None,
):
    """Train a SAELens SAE on the rows of ``X``, with SAELens's defaults.

    Parameters
    ----------
    X : ndarray of shape (n_samples, n_features)
        The training activations, converted to float32.
    sparsity : {"topk", "batchtopk", "jumprelu", "matryoshka"}
        The SAELens training SAE: ``TopKTrainingSAE``, ``BatchTopKTrainingSAE``,
        ``JumpReLUTrainingSAE`` or ``MatryoshkaBatchTopKTrainingSAE``.
    n_latents : int
        The number of latents, SAELens's ``d_sae``.
    k : int or float, default=None
        The latents kept per sample (TopK) or per sample on average over a
        batch (BatchTopK, Matryoshka); None keeps SAELens's default (100).
        JumpReLU takes none.
    epochs : int
        Passes over the rows, shuffled anew at each.
    batch_size : int
        Rows per step; the last step of an epoch takes the rows left.
    lr : float
        Adam's learning rate, constant unless SAELens's trainer defaults say
        otherwise.
    seed : int, default=0
        Seeds the initialization (torch's global generator) and the shuffles.
    matryoshka_widths : list of int, default=None
        Matryoshka only, where it is required: the cumulative widths of the
        nested levels, strictly increasing (level ``i`` is latents
        ``[0, widths[i])``); ``n_latents`` is appended if it is not last, as
        SAELens does.
    l0_coefficient : float, default=None
        JumpReLU only: the weight of its L0 loss; None keeps SAELens's
        default (1.0).
    sae_options : dict, default=None
        Other fields of the SAE's config, by name (e.g. JumpReLU's
        ``jumprelu_sparsity_loss_mode`` and ``target_l0``).

    Returns
    -------
    result : dict
        ``"encode"`` (float array of shape (n, n_features) to codes of shape
        (n, n_latents), by SAELens's inference SAE), ``"decode"`` (codes to
        reconstructions), ``"seconds"`` (wall time of building the SAE and
        training it), ``"steps"`` (optimizer steps), ``"version"``
        (``sae_lens.__version__``) and ``"config"`` (``"sae"``: the training
        SAE's config; ``"trainer"``: what the loop used).

    Raises
    ------
    ImportError
        When SAELens is not installed in this environment.
    ValueError
        For an unknown ``sparsity`` or an argument that it does not take.
    """
    if sparsity not in SPARSITIES:
        raise ValueError(f"sparsity must be one of {SPARSITIES}, got {sparsity!r}.")
    if sparsity == "jumprelu" and k is not None:
        raise ValueError("JumpReLU takes no k: its sparsity is set by l0_coefficient.")
    if sparsity != "jumprelu" and l0_coefficient is not None:
        raise ValueError(f"l0_coefficient is for jumprelu only, not {sparsity!r}.")
    if (sparsity == "matryoshka") != (matryoshka_widths is not None):
        raise ValueError(
            "matryoshka_widths is required for matryoshka (SAELens has no default) "
            "and taken by no other sparsity."
        )
    sae_lens = _import_sae_lens()
    X = torch.as_tensor(np.ascontiguousarray(X, dtype=np.float32))
    trainer = _trainer_defaults()
    with _one_thread():
        start = time.perf_counter()
        torch.manual_seed(seed)
        sae, sae_config = _build_sae(
            sparsity, X.shape[1], n_latents, k, matryoshka_widths, l0_coefficient, sae_options
        )
        steps = _fit(
            sae, X, epochs=epochs, batch_size=batch_size, lr=lr, seed=seed, trainer=trainer
        )
        seconds = time.perf_counter() - start
        inference = _inference_sae(sae)
    sae_fields = {
        field.name: getattr(sae_config, field.name)
        for field in dataclasses.fields(sae_config)
        if field.name != "metadata"
    }
    sae_fields["architecture"] = sae_config.architecture()
    sae_fields["inference_architecture"] = inference.cfg.architecture()
    trainer_fields = {
        **trainer,
        "lr": lr,
        "epochs": epochs,
        "batch_size": batch_size,
        "seed": seed,
        "clip_grad_norm": 1.0,
    }
    return {
        "encode": lambda A: _batched(inference.encode, A),
        "decode": lambda codes: _batched(inference.decode, codes),
        "seconds": seconds,
        "steps": steps,
        "version": sae_lens.__version__,
        "config": {"sae": sae_fields, "trainer": trainer_fields},
    }
