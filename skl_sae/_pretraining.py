"""Greedy layer-wise pre-training of a stack of sparse autoencoders.

Stage 1 trains one autoencoder layer per hidden size, each on the codes of
the one below, without the labels (:func:`~._trainer.fit_layer`); stage 2
trains a softmax layer on the top codes with the encoders frozen. The stacked
classifier then fine-tunes the whole network. Nothing here knows scikit-learn:
the estimator hands over its settings and a ``stage(name, n_epochs, X, y)``
context that yields the epoch hooks of each stage (its callbacks).
"""

from dataclasses import dataclass, field

from ._batches import apply_in_batches
from ._data import data_range, numpy_dtype
from ._layers import DenseLayer, StackedNetwork
from ._losses import ClassifierLoss
from ._trainer import (
    Run,
    as_dtype,
    fit_layer,
    new_layer,
    resolve_output_activation,
    train_run,
)


@dataclass
class PretrainedStack:
    """The pre-trained network and what each stage recorded."""

    network: StackedNetwork
    sizes: list = field(default_factory=list)
    """The size of each hidden layer (learned where it was ``"auto"``)."""
    loss_curves: list = field(default_factory=list)
    structure_curves: list = field(default_factory=list)
    code_scales: list = field(default_factory=list)
    """The typical size of each layer's pre-activations (its data's mean variance ** 0.5)."""
    softmax_loss_curve: list = field(default_factory=list)


def pretrain_stack(layer_settings, X, targets, sizes, *, n_classes, seeds, stage, softmax):
    """Stages 1 and 2 on ``X`` (with the label indices ``targets``).

    ``layer_settings(depth)`` gives the :class:`~._trainer.LayerSettings`
    of the hidden layer at ``depth`` (from 1) of ``sizes``; ``seeds`` is
    ``(rng, generator)``; ``softmax`` is the :class:`~._trainer.Schedule`
    of stage 2 (with the layers' weight decay), or None to skip it.
    Returns a :class:`PretrainedStack`.
    """
    rng, generator = seeds
    encoders, codes, stack = [], X, PretrainedStack(None)
    for depth, size in enumerate(sizes, start=1):
        settings = layer_settings(depth)
        alpha = settings.loss.alpha
        epochs = settings.schedule.max_iter
        with stage(f"pretrain-layer-{depth}", epochs, codes, None) as hooks:
            output_activation = resolve_output_activation(
                "auto", codes, settings.code.exactly_sparse
            )
            layer = new_layer(
                settings,
                codes,
                size,
                output_activation=output_activation,
                rng=rng,
                generator=generator,
            )
            fit_layer(
                settings,
                layer,
                [codes],
                bounds=data_range(codes),
                generator=generator,
                hooks=hooks,
            )
        size = layer.module.n_components
        stack.sizes.append(size)
        stack.code_scales.append(layer.scale**0.5)
        curve = [] if layer.structure is None else layer.structure["curve"]
        stack.structure_curves.append(curve + [size] * (epochs - len(curve)))
        if epochs:
            stack.loss_curves.append(list(layer.history.loss_curve))
        encoders.append(layer.module.encoder.eval())
        if depth < len(sizes):
            top = encoders[-1]
            codes = apply_in_batches(top, codes, top.weight, width=max(top.weight.shape))
            # (in the data's dtype, which a memory map's rows are not converted to)
            codes = as_dtype(codes, numpy_dtype(top.weight.dtype))
    device = encoders[-1].weight.device
    output = DenseLayer(
        stack.sizes[-1],
        n_classes,
        activation="identity",
        generator=generator,
        dtype=encoders[-1].weight.dtype,
    ).to(device)
    stack.network = StackedNetwork([*encoders, output])
    if softmax is not None:
        with stage("softmax", softmax.max_iter, X, targets) as hooks:
            run = Run(
                stack.network,
                ClassifierLoss(alpha=alpha, frozen=True),
                [X, targets],
                parameters=list(output.parameters()),
            )
            _, history = train_run(softmax, run, device=device, generator=generator, hooks=hooks)
        stack.softmax_loss_curve = list(history.loss_curve)
    return stack
