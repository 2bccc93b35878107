"""convjit.conv2d: torch.nn.functional.conv2d's signature and semantics on convjit kernels."""
import numpy as np

from . import _arguments, _native
from ._tensors import is_tensor, torch_native

# Resolved arguments per distinct call: repeated calls skip the Python-side checks.
_params_cache = {}
_PARAMS_CACHE_LIMIT = 4096


def _typed(value):
    # True == 1 and 1.0 == 1 as dict keys: the types keep a rejected value from hitting the
    # cache entry of an accepted one.
    if isinstance(value, tuple):
        return tuple(_typed(v) for v in value)
    return value, type(value)


def _cached_params(weight_dims, has_bias, stride, padding, dilation, groups, activation):
    arguments = (weight_dims, has_bias, stride, padding, dilation, groups, activation)
    try:
        key = _typed(arguments[2:])
        return _params_cache[weight_dims, has_bias, key]
    except KeyError:
        pass
    except TypeError:  # an unhashable argument (a list): resolve without caching
        return _arguments.layer_params(*arguments)
    params = _arguments.layer_params(*arguments)
    if len(_params_cache) >= _PARAMS_CACHE_LIMIT:
        _params_cache.clear()
    _params_cache[weight_dims, has_bias, key] = params
    return params


def conv2d(input, weight, bias=None, stride=1, padding=0, dilation=1, groups=1, *,
           activation=None, layout=None, threads=None):
    """2-D convolution with torch.nn.functional.conv2d's arguments and results.

    input:   a float32 torch.Tensor (CPU; NCHW-contiguous or channels_last: the output keeps
             the memory format PyTorch would give it) or a float32 NumPy array, (N, C, H, W)
             or unbatched (C, H, W); NumPy arrays in NHWC order with layout='nhwc'.
    weight:  (out_channels, in_channels / groups, kh, kw), the same kind as `input`.
    bias:    (out_channels,) or None.
    stride, dilation: an int or a pair. padding: an int, a pair, 'same' or 'valid'.
    activation: None, 'relu', ('clamp', lo, hi), 'leaky_relu' (slope 0.01, as torch's),
        ('leaky_relu', negative_slope), 'hardswish', 'silu' or 'sigmoid', applied inside the kernel.
    layout:  NumPy arrays only: 'nchw' (default) or 'nhwc'.
    threads: threads for the kernel; default: torch.get_num_threads() for tensors, else
             OMP_NUM_THREADS (1 when unset).

    Kernels are compiled once per shape and cached; the weights are packed on every call
    (convjit.Kernel and convjit.torch.convert pack them once).
    """
    params = _cached_params(_arguments.weight_shape(weight), bias is not None, stride, padding,
                            dilation, groups, activation)
    if is_tensor(input):
        if layout is not None:
            raise ValueError("layout: only for NumPy arrays; a tensor's memory format is its layout "
                             "(x.to(memory_format=torch.channels_last) for NHWC)")
        return torch_native().conv2d_tensors(input, weight, bias, params,
                                             _arguments.threads_argument(threads, -1))
    if isinstance(input, np.ndarray):
        return _native.conv2d_array(input, weight, bias, params, "nchw" if layout is None else layout,
                                    _arguments.threads_argument(threads, 0))
    raise TypeError(f"input: expected a torch.Tensor or a NumPy array, got {type(input).__name__}")
