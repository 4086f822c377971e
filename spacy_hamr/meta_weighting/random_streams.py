"""Random streams held still around the look-ahead's side passes.

The parser applies dropout whatever `drop` says and cuts long documents at
random, and a transformer runs in train mode inside its shim, so the side
passes draw random numbers. Both loss passes of a central difference must see
the same masks, or the difference measures dropout noise divided by the step;
and the real update should draw as it would have without HAMR's passes.

Held: Python's, numpy's and torch's CPU generators; on a GPU also torch's CUDA
generators (transformer dropout) and cupy's global generator (thinc's dropout
on the device). cupy's generator has no state to read back, so each pass
starts from a fresh generator seeded by one draw of the training's own, which
is put back afterwards.
"""

import random
from contextlib import contextmanager
from typing import Callable, Iterator

import numpy
import torch
from thinc.compat import cupy, has_cupy_gpu


@contextmanager
def frozen_randomness() -> Iterator[Callable[[], None]]:
    """Yield `reset`, which puts every random stream back to its state at entry."""
    states = random.getstate(), numpy.random.get_state(), torch.random.get_rng_state()
    # Only once CUDA is in use: asking earlier would initialise it.
    cuda = torch.cuda.get_rng_state_all() if torch.cuda.is_available() and torch.cuda.is_initialized() else None
    device_generator = cupy.random.get_random_state() if has_cupy_gpu and cupy is not None else None
    device_seed = int(device_generator.randint(0, 2**31 - 1)) if device_generator is not None else None

    def reset() -> None:
        random.setstate(states[0])
        numpy.random.set_state(states[1])
        torch.random.set_rng_state(states[2])
        if cuda is not None:
            torch.cuda.set_rng_state_all(cuda)
        if device_generator is not None:
            cupy.random.set_random_state(cupy.random.RandomState(device_seed))

    if device_generator is not None:
        reset()  # every pass, the first included, draws from the seeded stand-in
    try:
        yield reset
    finally:
        reset()
        if device_generator is not None:
            cupy.random.set_random_state(device_generator)
