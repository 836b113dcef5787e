"""Plain data: how answers and inputs cross between the student's code and the judge.

A check runs in two halves. The *probe* calls the student's function and describes what came
back as plain data (``describe``): nested dicts and lists of None, bool, int, float, str and
numpy arrays, with the exact type name of every value. The *judge* rebuilds ordinary Python
values from that description (``restore``) and compares them with the reference. The judge
never touches an object the student's code made, so an answer whose ``==`` is always true, a
float subclass or a tensor subclass with ``__torch_function__`` is just a value of the wrong
type; and because a description is plain data, the two halves can run in different processes
(``to_wire``/``from_wire``: JSON plus arrays, never pickle).
"""

from __future__ import annotations

import io
import json
from collections import Counter
from typing import Any

import numpy as np

# exact type names accepted where an answer is "a number" / "a mapping"
NUMBER_TYPES = ("float", "int", "numpy.float64", "numpy.float32", "numpy.int64", "numpy.int32")
MAPPING_TYPES = ("dict", "collections.Counter", "collections.defaultdict", "collections.OrderedDict")
TENSOR_TYPES = ("torch.Tensor", "torch.nn.parameter.Parameter")
MAX_ITEMS = 200_000   # a list or mapping longer than this is not read item by item

_SCALARS = {"NoneType", "bool", "int", "float", "str"}
_NUMPY_SCALARS = {"numpy.float64", "numpy.float32", "numpy.float16", "numpy.int64", "numpy.int32",
                  "numpy.int16", "numpy.int8", "numpy.uint8", "numpy.bool_", "numpy.bool"}


def type_name(value: Any) -> str:
    """'float', 'collections.Counter', 'torch.Tensor', ... : the exact type, never a base class."""
    t = type(value)
    module = getattr(t, "__module__", "") or ""
    if module == "builtins":
        return t.__qualname__
    if module.startswith("torch") and t.__qualname__ == "Tensor":
        return "torch.Tensor"
    return f"{module}.{t.__qualname__}"


def describe(value: Any, depth: int = 0) -> dict:
    """Plain description of ``value``: {"type": exact type name, and one of "value", "items"
    (with "kind": "mapping" or "sequence"), "array" (with "dtype"), or "repr"}."""
    name = type_name(value)
    if depth > 20:
        return {"type": name, "repr": "(nested too deeply)"}
    try:
        return _describe(value, name, depth)
    except Exception as error:  # noqa: BLE001 (a value whose methods fail or lie)
        return {"type": name, "repr": f"an object of type {name} that could not be read "
                                      f"({type(error).__name__})"}


def _describe(value: Any, name: str, depth: int) -> dict:
    if name in _SCALARS:
        return {"type": name, "value": value}
    if isinstance(value, str):  # numpy.str_ and other str subclasses: a string is a string
        return {"type": "str", "value": str.__getitem__(value, slice(None))}
    if name in _NUMPY_SCALARS:
        return {"type": name, "value": value.item()}
    if name == "numpy.ndarray":
        if value.dtype.kind not in "biufc":
            return {"type": name, "repr": f"a numpy array of dtype {value.dtype}"}
        return {"type": name, "dtype": str(value.dtype), "array": np.array(value)}
    if name in TENSOR_TYPES:
        import torch
        data = torch.Tensor.detach(value)
        if data.layout != torch.strided or data.device.type == "meta":
            return {"type": "torch.Tensor", "repr": f"a {data.layout} tensor on the {data.device.type} device"}
        data = data.cpu()
        dtype = str(data.dtype)
        if data.dtype in (torch.bfloat16, torch.float16):
            data = data.float()
        return {"type": "torch.Tensor", "dtype": dtype, "array": data.resolve_conj().numpy().copy(),
                "requires_grad": bool(value.requires_grad), "device": value.device.type}
    if name in MAPPING_TYPES + ("list", "tuple") and len(value) > MAX_ITEMS:
        return {"type": name, "repr": f"a {name} of {len(value)} items (more than the "
                                      f"{MAX_ITEMS} any answer of the course has)"}
    if name in MAPPING_TYPES:
        return {"type": name, "kind": "mapping",
                "items": [[describe(k, depth + 1), describe(v, depth + 1)] for k, v in dict.items(value)]}
    if name in ("list", "tuple"):
        return {"type": name, "kind": "sequence", "items": [describe(x, depth + 1) for x in value]}
    return {"type": name, "repr": f"an object of type {name}"}


class Opaque:
    """What the judge sees of a value of a type it does not rebuild."""

    def __init__(self, type_: str):
        self.type = type_

    def __repr__(self) -> str:
        return f"<{self.type}>"


def restore(desc: dict) -> Any:
    """The Python value a description stands for, built by trusted code from plain data. A
    Counter is rebuilt as a Counter (where a missing key counts 0, as a case's inputs must keep
    the type the notebook documents); every other mapping as a dict."""
    name = desc["type"]
    if "value" in desc:
        value = desc["value"]
        if name in ("float", "numpy.float64", "numpy.float32", "numpy.float16"):
            return float(value)
        if name in ("int",) or name.startswith("numpy.int") or name == "numpy.uint8":
            return int(value)
        if name in ("bool", "numpy.bool_", "numpy.bool"):
            return bool(value)
        if name in ("str", "NoneType"):
            return value
        raise ValueError(f"unknown scalar type {name}")
    if "array" in desc:
        array = np.asarray(desc["array"])
        if name == "torch.Tensor":
            import torch
            tensor = torch.from_numpy(array.copy())
            dtype = getattr(torch, desc["dtype"].replace("torch.", ""))
            return tensor.to(dtype)
        return array.astype(desc["dtype"], copy=True)
    if desc.get("kind") == "mapping":
        items = {_hashable(restore(k)): restore(v) for k, v in desc["items"]}
        return Counter(items) if name == "collections.Counter" else items
    if desc.get("kind") == "sequence":
        items = [restore(x) for x in desc["items"]]
        return tuple(items) if name == "tuple" else items
    return Opaque(name)


def _hashable(key: Any) -> Any:
    return tuple(_hashable(k) for k in key) if isinstance(key, list) else key


def plain_inputs(args: tuple) -> tuple:
    """The inputs a student's function receives: rebuilt from their description, so that they
    are the same whether the probe runs here or in another process."""
    return tuple(restore(describe(a)) for a in args)


# ---------------------------------------------------------------------------------------------
# Across processes: JSON for the structure, an .npz (allow_pickle=False) for the arrays
# ---------------------------------------------------------------------------------------------

def to_wire(plain: Any) -> tuple[str, bytes]:
    """(JSON text, npz bytes) for a structure of plain descriptions and arrays."""
    arrays: list[np.ndarray] = []

    def encode(x):
        if isinstance(x, np.ndarray):
            arrays.append(x)
            return {"__array__": len(arrays) - 1}
        if isinstance(x, dict):
            return {k: encode(v) for k, v in x.items()}
        if isinstance(x, (list, tuple)):
            return [encode(v) for v in x]
        return x

    text = json.dumps(encode(plain), allow_nan=True)
    buffer = io.BytesIO()
    np.savez(buffer, *arrays)
    return text, buffer.getvalue()


def from_wire(text: str, blob: bytes) -> Any:
    """Inverse of ``to_wire``; arrays are loaded with ``allow_pickle=False``."""
    with np.load(io.BytesIO(blob), allow_pickle=False) as npz:
        arrays = [npz[f"arr_{i}"] for i in range(len(npz.files))]

    def decode(x):
        if isinstance(x, dict):
            if set(x) == {"__array__"}:
                return arrays[x["__array__"]]
            return {k: decode(v) for k, v in x.items()}
        if isinstance(x, list):
            return [decode(v) for v in x]
        return x

    return decode(json.loads(text))
