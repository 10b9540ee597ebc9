"""A loss's value and the parameters' gradients, by hand or by autograd:
what the tests of the hand-written gradients compare."""


def loss_and_gradients(module, loss_fn, *batch, by_hand=False, weight=1.0):
    """``weight`` times the loss of ``module`` (in training mode) on
    ``batch`` (rows, and the labels of a classifier's loss) and the gradients
    it leaves, ``{name: gradient}`` (of the parameters that have one):
    through ``loss_fn.accumulate_gradients`` with ``by_hand``, else
    autograd's (the weight as L-BFGS's closure gives each batch)."""
    module.train()
    module.zero_grad(set_to_none=True)
    if by_hand:
        value = loss_fn.accumulate_gradients(module, *batch, weight=weight)
    else:
        value = loss_fn(module, *batch) * weight
        value.backward()
    gradients = {
        name: p.grad.clone() for name, p in module.named_parameters() if p.grad is not None
    }
    return value.detach(), gradients
