"""The stacked classifier's training loss and its gradient, by hand.

What :mod:`._fused` does for the plain autoencoder, for the fine-tuning of
:class:`~._layers.StackedNetwork`: dense layers with element-wise
activations (dropout on their inputs and codes), a linear output layer, the softmax
cross-entropy, and the adversarial rows' second pass (the first pass's
gradient carried down to the inputs). On small batches a step through autograd cost about twice
scikit-learn's ``MLPClassifier``'s (the digits, 200 x 64 -> 256 -> 10, one
thread: 1.6 ms against 0.88), most of it in the dispatcher and autograd
engine, not in the two large matrix products. :func:`loss_and_gradients`
computes the same loss and adds its gradient to the parameters' ``.grad``
with no autograd graph; the dropout masks are drawn as
:class:`~._losses.ClassifierLoss` draws them, in the same order, so that
both give the same step. :class:`~._losses.ClassifierLoss` uses it in
training whenever the network is of that plain kind (:func:`supports`);
sparse codes (TopK, BatchTopK, JumpReLU) go through autograd.
``tests/test_fused_classifier.py`` holds the two to the same values and
gradients.
"""

import torch

from ._codes import Activation
from ._functional import accumulate_gradient_, weight_decay
from ._fused import BACKWARDS, activate_
from ._layers import DenseLayer, StackedNetwork


def supports(module):
    """Whether :func:`loss_and_gradients` computes the classifier loss of
    ``module``: a :class:`~._layers.StackedNetwork` of dense layers whose
    hidden codes are element-wise activations and whose output is linear."""
    if type(module) is not StackedNetwork:
        return False
    layers = list(module.layers)
    plain = all(
        type(layer) is DenseLayer
        and type(layer.code) is Activation
        and layer.code.activation in BACKWARDS
        for layer in layers
    )
    return plain and layers[-1].code.activation == "identity"


#: The activations whose gradient is 0 where their output is 0 (``out * (1
#: - out)``, and relu's step): their dropped outputs, 0s, stand for the mask
#: in the backward pass, and dropout costs one pass over the codes, not two.
NONE_AT_ZERO = ("sigmoid", "relu")


@torch.no_grad()
def loss_and_gradients(module, x, y, loss, weight=1.0):
    """``weight`` times the cross-entropy of ``module``'s logits for the
    rows ``x`` and labels ``y`` (plus ``loss.alpha`` times weight decay),
    with its gradient added to the ``.grad`` of the parameters that
    ``loss`` trains (weight decay's aside: ``add_weight_decay_gradients_``
    adds it once a step).

    With ``loss.frozen``, the hidden layers give their codes as at inference
    (:meth:`~._losses.ClassifierLoss.frozen_codes`) and only the output
    layer trains; otherwise the inputs and each hidden code are dropped as
    :meth:`~._losses.ClassifierLoss.dropped_inputs` and
    :meth:`~._losses.ClassifierLoss.dropout_mask` say. Where
    :meth:`~._losses.ClassifierLoss.adversarial`, the clean rows' pass gives
    the gradient with respect to the inputs too, and a second pass steps on
    the rows that :meth:`~._losses.ClassifierLoss.perturbed` moves along it,
    each pass weighted as the loss weighs them.

    Returns
    -------
    value : torch.Tensor
        The weighted loss, a scalar without gradient.
    """
    if not loss.adversarial(x):
        return _pass(module, x, y, loss, weight)[0]
    share = loss.ADVERSARIAL_WEIGHT
    clean, gradient = _pass(module, x, y, loss, weight * (1 - share), input_gradient=True)
    moved, _ = _pass(module, loss.perturbed(x, gradient), y, loss, weight * share)
    return clean.add_(moved)


def _pass(module, x, y, loss, weight, input_gradient=False):
    """One forward and backward pass of :func:`loss_and_gradients`:
    ``(weighted loss, gradient)``, the second the gradient with respect to
    the inputs that the network read (after input dropout, up to a positive
    factor: what its sign needs) with ``input_gradient``, else None."""
    layers = list(module.layers)
    scale = 1.0
    if loss.frozen:
        x, layers = loss.frozen_codes(module, x), layers[-1:]
    else:
        x, scale = loss.dropped_inputs(x)
    # Layer i reads inputs[i] times the number scales[i] (the inverse of the
    # probability to keep what dropout kept), a factor of its product.
    inputs, scales, outputs, masks = [], [], [], []
    codes = x
    for layer in layers[:-1]:
        inputs.append(codes)
        scales.append(scale)
        out = torch.addmm(layer.bias, codes, layer.weight.T, alpha=scale)
        out = activate_(out, layer.code.activation)
        kept, scale = loss.dropout_mask(out)
        if kept is not None and layer.code.activation in NONE_AT_ZERO:
            out.mul_(kept)  # its gradient then drops where the output did
            kept = None
        outputs.append(out)
        masks.append(kept)
        codes = out if kept is None else out * kept
    inputs.append(codes)
    scales.append(scale)
    output = layers[-1]
    logits = torch.addmm(output.bias, codes, output.weight.T, alpha=scale)
    log_probabilities = logits.log_softmax(dim=1)
    value = torch.nn.functional.nll_loss(log_probabilities, y)
    if loss.alpha > 0:
        value = value.add_(weight_decay(loss.trained_weights(module)), alpha=loss.alpha)

    # Backward: the softmax minus the one-hot labels, through the layers.
    # The gradient at layer i's output carries scales[i], which its weight's
    # gradient and its inputs' share; its bias's does not.
    grad = log_probabilities.exp_()
    grad.scatter_(1, y[:, None], -1.0, reduce="add")
    grad.mul_(weight / len(y) * scales[-1])
    for i in range(len(layers) - 1, -1, -1):
        layer = layers[i]
        bias_grad = grad.sum(dim=0)
        accumulate_gradient_(layer.bias, bias_grad if scales[i] == 1 else bias_grad / scales[i])
        accumulate_gradient_(layer.weight, grad.T @ inputs[i])
        if i == 0:
            break
        grad = grad @ layer.weight
        if masks[i - 1] is not None:
            grad.mul_(masks[i - 1])
        grad = BACKWARDS[layers[i - 1].code.activation](grad, outputs[i - 1])
        if scales[i - 1] != 1:
            grad.mul_(scales[i - 1])
    gradient = grad @ layers[0].weight if input_gradient else None
    return (value if weight == 1 else value * weight), gradient
