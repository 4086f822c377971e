"""The first-order look-ahead: gradients and perturbations of every trainable
parameter, thinc's and (for spacy-transformers) torch's.

thinc has no second-order gradients. After the virtual step
theta' = theta - eta/B sum_j w_j grad l_j, the meta loss L_meta (summed over the
meta batch, as spaCy sums a batch's losses) has dL_meta/dw_i =
-eta <g, grad l_i> / B, with g = grad L_meta. That needs one dot product per
example; all of them come from two loss passes at theta +- h * g/|g| (a central
difference along g): <g, grad l_i> = |g| (l_i(theta + h u) - l_i(theta - h u)) / (2 h).

The parameters stay where the model keeps them (the model's ops' device, or
torch's); only per-example losses and the hypergradient come to the host.
"""

import math
from typing import Callable, Iterable, List, NamedTuple, Optional, Sequence, Tuple, Union

import numpy
import torch
from spacy.language import Language
from thinc.api import Model

from .._private_api import torch_module
from .random_streams import frozen_randomness

# A gradient with more than this share of non-zero entries is kept whole (one
# copy of the array) rather than as indices and values: 12 bytes per entry
# instead of 20 per non-zero one (transformer and dense layers), and no index
# arrays on the device.
DENSE_SHARE = 0.5


class Gradient(NamedTuple):
    """One parameter array's gradient: `positions` are the flat indices of its
    non-zero entries and `values` their values, or `positions` is None and
    `values` is the whole (flat) gradient. Arrays live where the parameter
    does: the model's ops' device, or torch's."""

    index: int
    positions: Optional[object]
    values: object


class TrainableParams:
    """The parameters an optimizer updates: every thinc param of the models,
    and the torch parameters of their shims (spacy-transformers)."""

    def __init__(self, models: Iterable[Model]):
        self.thinc: List[Tuple] = []  # (node, param name)
        self.torch: List[torch.nn.Parameter] = []
        seen_thinc, seen_torch = set(), set()
        for model in models:
            for node in model.walk():
                for param in node.param_names:
                    if node.has_param(param) and (node.id, param) not in seen_thinc:
                        seen_thinc.add((node.id, param))
                        self.thinc.append((node, param))
                for shim in node.shims:
                    module = torch_module(shim)
                    for tensor in module.parameters() if module is not None else ():
                        if tensor.requires_grad and id(tensor) not in seen_torch:
                            seen_torch.add(id(tensor))
                            self.torch.append(tensor)

    @classmethod
    def of_pipeline(cls, nlp: Language, exclude: Sequence[str]) -> "TrainableParams":
        """The parameters spaCy's optimizer updates, across all trainable pipes."""
        models = [
            pipe.model
            for name, pipe in nlp.pipeline
            if name not in exclude
            and getattr(pipe, "is_trainable", False)
            and getattr(pipe, "model", None) not in (True, False, None)
        ]
        return cls(models)

    def sparse_gradients(self) -> List[Gradient]:
        """The accumulated gradients, as non-zero entries where few are non-zero.

        Embedding tables and BOW weights get gradients on a few rows only, so
        the look-ahead touches those entries instead of copying whole arrays.
        """
        out = []
        for i, (node, p) in enumerate(self.thinc):
            if node.has_grad(p):
                grad = node.get_grad(p).reshape(-1)
                xp = node.ops.xp
                # A boolean mask's nonzero is ~7x faster than flatnonzero on floats
                # (6 ms on the BOW textcat's 2.4M weights, once per meta step).
                nonzero = grad != 0
                count = int(xp.count_nonzero(nonzero))
                if count > DENSE_SHARE * grad.size:
                    out.append(Gradient(i, None, grad.copy()))
                elif count:
                    positions = xp.nonzero(nonzero)[0]
                    out.append(Gradient(i, positions, grad[positions].copy()))
        for j, tensor in enumerate(self.torch):
            if tensor.grad is not None:
                grad = tensor.grad.detach().reshape(-1)
                count = int(torch.count_nonzero(grad))
                if count > DENSE_SHARE * grad.numel():
                    out.append(Gradient(len(self.thinc) + j, None, grad.clone()))
                elif count:
                    positions = torch.nonzero(grad).reshape(-1)
                    out.append(Gradient(len(self.thinc) + j, positions, grad[positions].clone()))
        return out

    def zero_gradients(self) -> None:
        for node, p in self.thinc:
            if node.has_grad(p):
                node.get_grad(p).fill(0)
        for tensor in self.torch:
            if tensor.grad is not None:
                tensor.grad.zero_()

    def array(self, i: int):
        """The i-th parameter array itself (thinc's array on its ops' device, or torch's tensor data)."""
        if i < len(self.thinc):
            node, p = self.thinc[i]
            return node.get_param(p)
        return self.torch[i - len(self.thinc)].data


def flat_view(array):
    """A flat view of a parameter array, writable in place (thinc's arrays on
    any device, or a torch tensor)."""
    if isinstance(array, torch.Tensor):
        return array.view(-1)
    if not array.flags.c_contiguous:
        raise ValueError(
            f"[hamr] A parameter array of shape {array.shape} is not contiguous; "
            "the look-ahead cannot perturb it in place."
        )
    return array.reshape(-1)


class Perturbation:
    """theta = base + step * scale * g on the entries where g != 0 (all entries
    of a dense gradient), restorable exactly."""

    def __init__(self, params: TrainableParams, grads: List[Gradient], scale: float):
        self.entries = []
        for i, positions, values in grads:
            flat = flat_view(params.array(i))
            part = slice(None) if positions is None else positions
            if isinstance(flat, torch.Tensor):
                base, direction = flat[part].clone(), values * scale
            else:
                base, direction = flat[part].copy(), values * values.dtype.type(scale)
            self.entries.append((flat, part, base, direction))

    def apply(self, step: float) -> None:
        for flat, part, base, direction in self.entries:
            if isinstance(flat, torch.Tensor):
                with torch.no_grad():
                    flat[part] = base + step * direction
            else:
                flat[part] = base + direction.dtype.type(step) * direction

    def restore(self) -> None:
        for flat, part, base, _ in self.entries:
            if isinstance(flat, torch.Tensor):
                with torch.no_grad():
                    flat[part] = base
            else:
                flat[part] = base


def gradient_norm(grads: List[Gradient]) -> float:
    """The L2 norm of all gradients together, summed in float64 over the
    non-zero entries (so a dense gradient sums exactly as its sparse form)."""
    total = 0.0
    for _, positions, values in grads:
        if positions is None:
            values = values[values != 0]
        if isinstance(values, torch.Tensor):
            total += float((values.double() ** 2).sum())
        else:
            total += float((values.astype("float64") ** 2).sum())
    return total**0.5


# (examples, with_gradients, weights) -> (per-example losses, sparse gradients or None);
# applies nothing. `weights` (None: as they are) weight the pass's gradient.
LossPass = Callable[..., Tuple[numpy.ndarray, Optional[List]]]


def hypergradient(
    loss_pass: LossPass,
    params: TrainableParams,
    batch: Sequence,
    meta_batch: Sequence,
    fd_step: float,
    inner_lr: float,
    meta_weights: Optional[numpy.ndarray] = None,
) -> Union[Tuple[numpy.ndarray, numpy.ndarray, float], str]:
    """(losses l_i, dL_meta/dw_i, mean meta loss) for a batch, or the reason it cannot be computed.

    dL_meta/dw_i is the derivative of the meta batch's summed (weighted) loss,
    len(meta_batch) times that of its mean.

    meta_weights (numpy.ndarray or None): Per-example weights of the meta loss
        (mean 1, e.g. `labels.macro_loss_weights` for the macro loss); None: the mean loss.

    The loss passes run with frozen randomness, so the + and - passes see the
    same dropout masks, and the parameters are restored exactly afterwards.
    """
    with frozen_randomness() as reset:
        meta_losses, grads = loss_pass(meta_batch, True, meta_weights)
        meta_loss = float(numpy.mean(meta_losses if meta_weights is None else meta_weights * meta_losses))
        norm = gradient_norm(grads)
        if not (math.isfinite(meta_loss) and math.isfinite(norm)) or norm == 0.0:
            return f"meta loss {meta_loss:.4g}, meta gradient norm {norm:.4g}"
        along_meta_gradient = Perturbation(params, grads, 1.0 / norm)
        try:
            reset()
            along_meta_gradient.apply(fd_step)
            plus, _ = loss_pass(batch, False, None)
            reset()
            along_meta_gradient.apply(-fd_step)
            minus, _ = loss_pass(batch, False, None)
        finally:
            along_meta_gradient.restore()
    if not (numpy.isfinite(plus).all() and numpy.isfinite(minus).all()):
        return "non-finite training losses"
    dots = norm * (plus - minus) / (2 * fd_step)  # <g, grad l_i>
    return (plus + minus) / 2, -inner_lr * dots / len(batch), meta_loss
