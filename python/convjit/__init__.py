"""convjit from Python: JIT-compiled 2-D convolutions, specialised per exact shape.

    convjit.conv2d(input, weight, bias, stride, padding, dilation, groups, activation=...)
        torch.nn.functional.conv2d on float32 torch tensors and NumPy arrays
    convjit.Kernel
        one shape: compile once, pack weights once, run many (the GIL is released)
    convjit.torch.convert(model)
        replaces every nn.Conv2d of an eval-mode model by a convjit module
    convjit.quantized.qlinear_conv / conv_integer / conv2d
        8-bit convolutions with ONNX's and PyTorch's quantized semantics

Errors about arguments are ValueError or TypeError naming the argument; convjit.Error is the
ValueError the C++ side raises, with `field` (the argument or spec key) and `reason`.
"""
import importlib

from . import quantized
from ._conv2d import conv2d
from ._kernel import Kernel
from ._native import Error, PackedWeights, backend, cache_stats, isa

__all__ = ["conv2d", "quantized", "Kernel", "PackedWeights", "Error", "backend", "isa", "cache_stats"]


def __getattr__(name):
    # convjit.torch imports PyTorch, so only on first use.
    if name == "torch":
        return importlib.import_module(".torch", __name__)
    raise AttributeError(f"module 'convjit' has no attribute {name!r}")
