"""The first-order look-ahead: gradients and perturbations of every trainable
parameter, thinc's and (for spacy-transformers) torch's.

thinc has no second-order gradients. dL_meta/dw_i = -eta <g, grad l_i> / B,
with g the meta gradient, needs one dot product per example; all of them come
from two loss passes at theta +- h * g/|g| (a central difference along g):
<g, grad l_i> = |g| (l_i(theta + h u) - l_i(theta - h u)) / (2 h).
"""
import math
import random
from contextlib import contextmanager
from typing import Callable, Iterator, List, Optional, Sequence, Tuple, Union

import numpy
import torch
from spacy.language import Language


class TrainableParams:
    """The parameters spaCy's optimizer updates, across all trainable pipes."""

    def __init__(self, nlp: Language, exclude: Sequence[str]):
        self.thinc: List[Tuple] = []  # (node, param name)
        self.torch: List[torch.nn.Parameter] = []
        seen_thinc, seen_torch = set(), set()
        for name, pipe in nlp.pipeline:
            model = getattr(pipe, "model", None)
            if name in exclude or not getattr(pipe, "is_trainable", False) or model in (True, False, None):
                continue
            for node in model.walk():
                for param in node.param_names:
                    if node.has_param(param) and (node.id, param) not in seen_thinc:
                        seen_thinc.add((node.id, param))
                        self.thinc.append((node, param))
                for shim in node.shims:
                    module = getattr(shim, "_model", None)
                    if isinstance(module, torch.nn.Module):
                        for tensor in module.parameters():
                            if tensor.requires_grad and id(tensor) not in seen_torch:
                                seen_torch.add(id(tensor))
                                self.torch.append(tensor)

    def gradients(self) -> List:
        """Copies of the accumulated gradients (zeros where none)."""
        grads = [node.get_grad(p).copy() if node.has_grad(p) else numpy.zeros_like(node.get_param(p))
                 for node, p in self.thinc]
        grads += [t.grad.detach().clone() if t.grad is not None else torch.zeros_like(t) for t in self.torch]
        return grads

    def zero_gradients(self) -> None:
        for node, p in self.thinc:
            if node.has_grad(p):
                node.set_grad(p, node.ops.alloc(node.get_grad(p).shape, dtype=node.get_grad(p).dtype))
        for tensor in self.torch:
            if tensor.grad is not None:
                tensor.grad.zero_()

    def values(self) -> List:
        return [node.get_param(p).copy() for node, p in self.thinc] + [t.detach().clone() for t in self.torch]

    def assign(self, base: List, direction: List, step: float) -> None:
        """Set theta = base + step * direction (float32 kept: BLIS needs it)."""
        n = len(self.thinc)
        for (node, p), b, d in zip(self.thinc, base[:n], direction[:n]):
            node.set_param(p, (b + numpy.float32(step) * d).astype(b.dtype, copy=False))
        with torch.no_grad():
            for tensor, b, d in zip(self.torch, base[n:], direction[n:]):
                tensor.copy_(b + step * d)

    def restore(self, base: List) -> None:
        n = len(self.thinc)
        for (node, p), b in zip(self.thinc, base[:n]):
            node.set_param(p, b)
        with torch.no_grad():
            for tensor, b in zip(self.torch, base[n:]):
                tensor.copy_(b)


def global_norm(arrays: List) -> float:
    total = 0.0
    for a in arrays:
        total += float((a.astype("float64") ** 2).sum()) if isinstance(a, numpy.ndarray) else float((a.double() ** 2).sum())
    return total ** 0.5


def scaled(arrays: List, factor: float) -> List:
    return [a * numpy.float32(factor) if isinstance(a, numpy.ndarray) else a * factor for a in arrays]


@contextmanager
def frozen_randomness() -> Iterator:
    """Run side passes without moving Python's, numpy's or torch's random streams.

    The parser applies dropout whatever `drop` says and cuts long documents at
    random; restoring the streams makes both loss passes of a central
    difference see the same masks, and leaves the real update's draws as they
    would have been without HAMR's passes.
    """
    states = random.getstate(), numpy.random.get_state(), torch.random.get_rng_state()

    def reset() -> None:
        random.setstate(states[0])
        numpy.random.set_state(states[1])
        torch.random.set_rng_state(states[2])

    try:
        yield reset
    finally:
        reset()


# (examples, with_gradients) -> (per-example losses, gradients or None); applies nothing.
LossPass = Callable[..., Tuple[numpy.ndarray, Optional[List]]]


def hypergradient(loss_pass: LossPass, params: TrainableParams, batch: Sequence, meta_batch: Sequence,
                  fd_step: float, inner_lr: float) -> Union[Tuple[numpy.ndarray, numpy.ndarray, float], str]:
    """(losses l_i, dL_meta/dw_i, meta loss) for a batch, or the reason it cannot be computed.

    The loss passes run with frozen randomness, so the + and - passes see the
    same dropout masks, and the parameters are restored exactly afterwards.
    """
    with frozen_randomness() as reset:
        meta_losses, grads = loss_pass(meta_batch, True)
        meta_loss = float(numpy.mean(meta_losses))
        norm = global_norm(grads)
        if not (math.isfinite(meta_loss) and math.isfinite(norm)) or norm == 0.0:
            return f"meta loss {meta_loss:.4g}, meta gradient norm {norm:.4g}"
        base, direction = params.values(), scaled(grads, 1.0 / norm)
        try:
            reset()
            params.assign(base, direction, fd_step)
            plus, _ = loss_pass(batch, False)
            reset()
            params.assign(base, direction, -fd_step)
            minus, _ = loss_pass(batch, False)
        finally:
            params.restore(base)
    if not (numpy.isfinite(plus).all() and numpy.isfinite(minus).all()):
        return "non-finite training losses"
    dots = norm * (plus - minus) / (2 * fd_step)  # <g, grad l_i>
    return (plus + minus) / 2, -inner_lr * dots / len(batch), meta_loss
