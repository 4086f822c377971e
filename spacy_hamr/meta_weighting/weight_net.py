"""The weight net and its meta-update (HAMR's "how much each example counts").

Per-example losses are z-scored within the batch (the net's only input), mapped
by an MLP 1 -> 100 -> 1 (ReLU; sigmoid output; output bias 0.1) to raw weights,
which are mean-normalised per batch (mean detached) and clamped to [0.1, 8].

Unlike the reference code, the output layer's weights start at zero, so every
example starts at weight 1 and only the meta-gradient bends w(z). With PyTorch's
default init the untrained net already weights examples 0.8-1.2 by their loss,
in a direction set by the seed; at a meta step every 8 steps it barely moves from
there, and that random slope then decided the hardness the batcher samples by.

The meta-update follows the first-order one-step look-ahead: after a virtual
SGD step theta' = theta - eta * sum_i w_i grad l_i, the meta loss changes with
w_i at rate dL_meta/dw_i = -eta <grad L_meta, grad l_i> / B. These
hypergradients are back-propagated through w(z) into the net (Adam).
"""

from typing import Tuple

import numpy
import torch

from ..threads import one_torch_thread

MIN_WEIGHT, MAX_WEIGHT = 0.1, 8.0
HIDDEN = 100
OUTPUT_BIAS = 0.1


class WeightNet(torch.nn.Module):
    """Maps a z-scored loss to a raw weight logit."""

    def __init__(self, seed: int):
        super().__init__()
        generator_state = torch.random.get_rng_state()
        torch.manual_seed(seed)  # the net's init follows the HAMR seed, not torch's global stream
        self.hidden = torch.nn.Linear(1, HIDDEN)
        self.out = torch.nn.Linear(HIDDEN, 1)
        torch.random.set_rng_state(generator_state)
        with torch.no_grad():
            self.out.weight.zero_()
            self.out.bias.fill_(OUTPUT_BIAS)
        self.double()  # tiny net: float64 keeps it exact and deterministic

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        return self.out(torch.relu(self.hidden(z[:, None])))[:, 0]


def zscore(losses: numpy.ndarray) -> numpy.ndarray:
    """(l - mean) / max(std, 1e-6), population std, as the reference code does."""
    return (losses - losses.mean()) / max(float(losses.std()), 1e-6)


def _weights(net: WeightNet, losses: numpy.ndarray) -> torch.Tensor:
    raw = torch.sigmoid(net(torch.from_numpy(zscore(losses))))
    return torch.clamp(raw / raw.mean().detach(), MIN_WEIGHT, MAX_WEIGHT)


def batch_weights(net: WeightNet, losses: numpy.ndarray) -> numpy.ndarray:
    """The per-example weights of one batch (no gradient)."""
    with torch.no_grad(), one_torch_thread():
        return _weights(net, losses).numpy()


def meta_step(
    net: WeightNet, optimizer: torch.optim.Optimizer, losses: numpy.ndarray, hypergrad: numpy.ndarray
) -> Tuple[float, numpy.ndarray]:
    """One Adam step of the net along dL_meta/dw; return the surrogate and new weights."""
    with one_torch_thread():  # from about 128 examples torch splits the sums by thread
        optimizer.zero_grad()
        weights = _weights(net, losses)
        # d/dphi sum_i (dL_meta/dw_i) w_i(phi) = dL_meta/dphi to first order.
        surrogate = (torch.from_numpy(hypergrad) * weights).sum()
        surrogate.backward()
        optimizer.step()
    return float(surrogate.detach()), batch_weights(net, losses)


def make_optimizer(
    net: WeightNet, learn_rate: float, weight_decay: float = 1e-4, decoupled: bool = False
) -> torch.optim.Optimizer:
    """Adam as the reference code has it (weight decay added to the gradient) or,
    `decoupled`, AdamW: the hypergradient (RMS about 2e-5 on textcat) is as small
    as the coupled decay term, which then decides where the net goes."""
    if decoupled:
        return torch.optim.AdamW(net.parameters(), lr=learn_rate, weight_decay=weight_decay)
    return torch.optim.Adam(net.parameters(), lr=learn_rate, weight_decay=weight_decay)
