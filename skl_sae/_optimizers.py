"""Adam and SGD with Nesterov momentum, for models of a few tensors.

``torch.optim``'s optimizers import torch's compiler (``torch._dynamo``) the
first time one is built: 1.4 s in every new process, longer than a whole fit
of a small table, and paid again by each joblib worker of a grid search. On
the CPU each of their steps also costs some 200 us of Python around the
arithmetic. These two do the same arithmetic with none of that: Adam is one
call of the fused kernel that ``torch.optim.Adam(fused=True)`` runs, SGD a
few in-place operations per tensor. Their ``state_dict`` has the layout of
``torch.optim``'s, so that models pickled with either continue training
with the other; ``load_state_dict`` keeps the learning rate given to the
constructor (the estimator's current ``learning_rate_init``), not the saved
one, which :class:`~._training.StepSizeDecay` may have lowered.
L-BFGS, whose line search is most of its work, stays ``torch.optim.LBFGS``.
"""

import torch


class _Optimizer:
    """What both share: the parameters, per-parameter state, the step
    protocol of ``torch.optim`` (``step(closure)``, ``zero_grad``) and the
    state dict."""

    #: Names of the per-parameter state tensors, in the order of ``state_dict``.
    state_names = ()

    def __init__(self, parameters, lr):
        self.parameters = list(parameters)
        self.lr = float(lr)
        self.state = [{} for _ in self.parameters]

    def zero_grad(self, set_to_none=True):
        for parameter in self.parameters:
            if set_to_none:
                parameter.grad = None
            elif parameter.grad is not None:
                parameter.grad.zero_()

    def step(self, closure=None):
        """Evaluate ``closure`` (gradients on), then update the parameters
        that have a gradient; return the closure's loss."""
        loss = None
        if closure is not None:
            with torch.enable_grad():
                loss = closure()
        with torch.no_grad():
            indices = [i for i, p in enumerate(self.parameters) if p.grad is not None]
            if indices:
                self._update(indices)
        return loss

    def _update(self, indices):
        raise NotImplementedError

    def state_dict(self):
        """``{"state": {index: {name: tensor}}, "param_groups": [...]}``, as
        ``torch.optim``'s; the moments are the live tensors (copy to keep),
        each step count a copy of its own (see :meth:`Adam._count_step`)."""
        group = {"lr": self.lr, **self._hyperparameters(), "params": list(range(len(self.state)))}
        state = {i: _own_step(entry) for i, entry in enumerate(self.state) if entry}
        return {"state": state, "param_groups": [group]}

    def load_state_dict(self, state_dict):
        """Take the per-parameter state of ``state_dict`` (from this class or
        from ``torch.optim``'s), moved to each parameter's device.

        Raises
        ------
        ValueError
            If it describes other parameters (their number or shapes).
        """
        groups = state_dict["param_groups"]
        indices = [index for group in groups for index in group["params"]]
        if len(indices) != len(self.parameters):
            raise ValueError(
                f"The state has {len(indices)} parameters; this optimizer has "
                f"{len(self.parameters)}."
            )
        loaded = []
        for position, index in enumerate(indices):
            parameter = self.parameters[position]
            saved = state_dict["state"].get(index, {})
            entry = {}
            for name in self.state_names:
                if saved.get(name) is None:
                    continue
                value = torch.as_tensor(saved[name])
                if name != "step" and value.shape != parameter.shape:
                    raise ValueError(
                        f"The state of parameter {position} has shape {tuple(value.shape)}; "
                        f"the parameter has {tuple(parameter.shape)}."
                    )
                dtype = torch.float32 if name == "step" else parameter.dtype
                entry[name] = value.to(parameter.device, dtype, copy=True)
            loaded.append(entry)
        self.state = loaded
        steps = [entry["step"] for entry in loaded if "step" in entry]
        if len(steps) == len(loaded) and all(
            step.device == steps[0].device and torch.equal(step, steps[0]) for step in steps
        ):
            for entry in loaded:  # one count again (see Adam._count_step)
                entry["step"] = steps[0]

    def _hyperparameters(self):
        return {}

    @torch.no_grad()
    def select_units_(self, parameter, dim, keep, n_new):
        """Follow a change of ``parameter``'s size along ``dim`` (see
        :meth:`SparseAutoencoder.select_units_
        <._modules.SparseAutoencoder.select_units_>`): its state keeps the
        slices at ``keep`` and gives the ``n_new`` new ones the state of
        :meth:`_new_state`."""
        position = next(i for i, p in enumerate(self.parameters) if p is parameter)
        for name, value in self.state[position].items():
            if name == "step":
                continue
            kept = value.index_select(dim, keep.to(value.device))
            new = self._new_state(name, kept, dim, n_new)
            resized = torch.cat([kept, new], dim=dim)
            if resized.shape == parameter.shape:  # in the parameter's layout
                resized = torch.empty_like(parameter).copy_(resized)
            self.state[position][name] = resized

    def _new_state(self, name, kept, dim, n_new):
        """State ``name`` of ``n_new`` new slices along ``dim``, given that of
        the ``kept`` ones: zero moments.

        Adam's step count, and with it its bias correction, is shared by the
        whole tensor and long past its start, so that new slices with zero
        moments take first steps larger than the learning rate (up to about
        5 times, decaying over some hundred steps): new units leave their
        random start fast. Structure learning measured it against second
        moments started at the kept slices' mean (steps that grow to the
        learning rate): on MNIST (10,000 images) the layer chosen then gave
        a logistic regression 0.9547 against 0.9688 (``bench_structure.py``)."""
        shape = list(kept.shape)
        shape[dim] = n_new
        return kept.new_zeros(shape)


class Adam(_Optimizer):
    """Adam (Kingma & Ba, 2015) with torch's defaults: betas (0.9, 0.999),
    eps 1e-8, no weight decay; bias-corrected, as ``torch.optim.Adam``."""

    state_names = ("step", "exp_avg", "exp_avg_sq")
    betas = (0.9, 0.999)
    eps = 1e-8

    def _hyperparameters(self):
        return {
            "betas": self.betas,
            "eps": self.eps,
            "weight_decay": 0.0,
            "amsgrad": False,
            "maximize": False,
        }

    def _update(self, indices):
        params, grads, exp_avgs, exp_avg_sqs = [], [], [], []
        step = None  # the parameters that start together share their count
        for i in indices:
            parameter, state = self.parameters[i], self.state[i]
            if not state:
                if step is None:
                    step = torch.zeros((), dtype=torch.float32, device=parameter.device)
                state.update(
                    step=step,
                    exp_avg=torch.zeros_like(parameter, memory_format=torch.preserve_format),
                    exp_avg_sq=torch.zeros_like(parameter, memory_format=torch.preserve_format),
                )
            tensors = (parameter, parameter.grad, state["exp_avg"], state["exp_avg_sq"])
            if not parameter.is_contiguous():
                tensors = _in_memory_order(tensors)
            for found, tensor in zip((params, grads, exp_avgs, exp_avg_sqs), tensors, strict=True):
                found.append(tensor)
        self._count_step(indices)  # (which may give a parameter its own count)
        steps = [self.state[i]["step"] for i in indices]
        torch._fused_adam_(
            params,
            grads,
            exp_avgs,
            exp_avg_sqs,
            [],
            steps,
            lr=self.lr,
            beta1=self.betas[0],
            beta2=self.betas[1],
            weight_decay=0.0,
            eps=self.eps,
            amsgrad=False,
            maximize=False,
        )

    def _count_step(self, indices):
        """Add 1 to the step count of the parameters at ``indices``. Those
        that started together share one count, so that a step adds to one
        tensor (a call of some microseconds on a small table's step, where
        ``torch._foreach_add_`` over four counts took 20); a count shared
        with a parameter that does not take this step is first copied."""
        steps = [self.state[i]["step"] for i in indices]
        shared = [entry.get("step") for entry in self.state]
        if all(step is steps[0] for step in steps) and len(steps) == sum(
            step is steps[0] for step in shared
        ):
            steps[0].add_(1)
            return
        for i in indices:
            if sum(step is self.state[i]["step"] for step in shared) > 1:
                self.state[i]["step"] = self.state[i]["step"].clone()
        torch._foreach_add_([self.state[i]["step"] for i in indices], 1)


def _own_step(entry):
    """A copy of the state ``entry`` with its own step count, as
    ``torch.optim`` keeps them (its Adam adds 1 to each)."""
    entry = dict(entry)
    if "step" in entry:
        entry["step"] = entry["step"].clone()
    return entry


def _in_memory_order(tensors):
    """``tensors`` (a parameter, its gradient and state), or their transposes
    where all are stored transposed (a weight kept by feature, see
    :meth:`~._layers.DenseLayer.store_by_feature_`): the fused kernel runs on
    contiguous tensors and copies the others in and back, three times its
    time on a 128 x 15,177 weight."""
    if all(t.dim() == 2 and not t.is_contiguous() and t.mT.is_contiguous() for t in tensors):
        return [t.mT for t in tensors]
    return tensors


class SGD(_Optimizer):
    """Stochastic gradient descent with Nesterov momentum 0.9, as
    scikit-learn's MLP and ``torch.optim.SGD(momentum=0.9, nesterov=True)``."""

    state_names = ("momentum_buffer",)
    momentum = 0.9

    def _hyperparameters(self):
        return {
            "momentum": self.momentum,
            "nesterov": True,
            "dampening": 0.0,
            "weight_decay": 0.0,
            "maximize": False,
        }

    def _update(self, indices):
        for i in indices:
            parameter, state = self.parameters[i], self.state[i]
            grad = parameter.grad
            buffer = state.get("momentum_buffer")
            if buffer is None:
                buffer = state["momentum_buffer"] = grad.detach().clone()
            else:
                buffer.mul_(self.momentum).add_(grad)
            parameter.add_(grad.add(buffer, alpha=self.momentum), alpha=-self.lr)
