"""A stand-in accelerator for CPU-only machines: thinc Ops whose arrays live
"on a device", as cupy's do on a GPU.

A `DeviceArray` behaves like an array (arithmetic, indexing, methods), but,
like a cupy array, refuses implicit conversion to numpy: `numpy.asarray(x)`,
numpy functions and ufuncs on it, and mixing it with numpy arrays all raise
TypeError. It is stricter than cupy in one way: numpy functions do not
dispatch to the device either (cupy answers some of them, one host sync per
call), so code that works on a GPU only through that dispatch fails here too.
Explicit transfers work as on cupy: `xp.asarray(numpy_array)` to the device,
`ops.to_numpy(x)` or `x.get()` back.
"""

from typing import Any

import numpy
from thinc.api import Ops

LEAK = "implicit conversion of a stand-in device array to numpy (use the model's ops: ops.xp, ops.to_numpy)"


def _to_device_args(value: Any) -> Any:
    if isinstance(value, DeviceArray):
        return value.data
    if isinstance(value, numpy.ndarray):
        raise TypeError(f"a numpy array given to a device function: {LEAK}")
    if isinstance(value, (list, tuple)):
        return type(value)(_to_device_args(v) for v in value)
    return value


def _wrap(value: Any) -> Any:
    if isinstance(value, numpy.ndarray):
        return DeviceArray(value)
    if isinstance(value, tuple):
        return tuple(_wrap(v) for v in value)
    return value


class DeviceArray:
    """A numpy array held behind a wall, as if in device memory."""

    __array_ufunc__ = None  # numpy ufuncs and `numpy_array + device_array` raise

    def __init__(self, data: numpy.ndarray):
        self.data = data

    def __array__(self, *args, **kwargs):
        raise TypeError(LEAK)

    def __array_function__(self, func, types, args, kwargs):
        return NotImplemented  # numpy raises TypeError

    def get(self) -> numpy.ndarray:
        return self.data.copy()

    def __getattr__(self, name: str):
        if name.startswith("__"):  # __array_interface__, __array_struct__: numpy's back doors
            raise AttributeError(name)
        attr = getattr(self.data, name)
        if not callable(attr):
            return _wrap(attr)
        return lambda *args, **kwargs: _wrap(
            attr(*_to_device_args(args), **{k: _to_device_args(v) for k, v in kwargs.items()})
        )

    def __getitem__(self, key):
        return _wrap(self.data[_to_device_args(key)])

    def __setitem__(self, key, value):
        self.data[_to_device_args(key)] = _to_device_args(value)

    def __len__(self):
        return len(self.data)

    def __iter__(self):
        return (_wrap(row) for row in self.data)

    def __float__(self):
        return float(self.data)

    def __int__(self):
        return int(self.data)

    def __bool__(self):
        return bool(self.data)

    def __repr__(self):
        return f"DeviceArray({self.data!r})"


def _binary(name: str):
    def method(self, other):
        return _wrap(getattr(self.data, name)(_to_device_args(other)))

    return method


for _name in ("add", "sub", "mul", "truediv", "floordiv", "pow", "matmul", "mod"):
    for _form in (f"__{_name}__", f"__r{_name}__", f"__i{_name}__"):
        setattr(DeviceArray, _form, _binary(_form))
for _form in ("__lt__", "__le__", "__gt__", "__ge__", "__eq__", "__ne__", "__and__", "__or__"):
    setattr(DeviceArray, _form, _binary(_form))
for _form in ("__neg__", "__abs__", "__invert__"):
    setattr(DeviceArray, _form, lambda self, _f=_form: _wrap(getattr(self.data, _f)()))
DeviceArray.__hash__ = None


class _DeviceRandom:
    """The device's own random generator (as cupy.random), apart from numpy's."""

    def __init__(self):
        self.state = numpy.random.RandomState(0)

    def __getattr__(self, name: str):
        attr = getattr(self.state, name)
        return lambda *args, **kwargs: _wrap(attr(*_to_device_args(args), **kwargs))


class DeviceXP:
    """The array module of the stand-in device (thinc's `ops.xp`)."""

    ndarray = DeviceArray

    def __init__(self):
        self.random = _DeviceRandom()

    def asarray(self, data, dtype=None):
        if isinstance(data, DeviceArray):
            return data if dtype is None or data.dtype == dtype else DeviceArray(data.data.astype(dtype))
        return DeviceArray(numpy.array(data, dtype=dtype))  # a host-to-device copy

    array = asarray

    def __getattr__(self, name: str):
        attr = getattr(numpy, name)
        if not callable(attr) or isinstance(attr, type):
            return attr  # dtypes and constants
        return lambda *args, **kwargs: _wrap(
            attr(*_to_device_args(args), **{k: _to_device_args(v) for k, v in kwargs.items()})
        )


class StandInOps(Ops):
    """thinc's generic Ops over the stand-in device's arrays."""

    name = "stand_in"

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.xp = DeviceXP()

    def to_numpy(self, data, *, byte_order=None):
        return data.get() if isinstance(data, DeviceArray) else data


def to_stand_in(model, ops: StandInOps) -> None:
    """Move an initialised thinc model's parameters to the stand-in device."""
    for node in model.walk():
        node.ops = ops
        for name in node.param_names:
            if node.has_param(name):
                node.set_param(name, ops.asarray(node.get_param(name)))
