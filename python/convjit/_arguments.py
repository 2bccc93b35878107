"""conv2d's arguments, checked and resolved the way torch.nn.functional.conv2d does, into the
LayerParams the C++ side compiles from. Errors name the argument, as PyTorch's do."""
import math
import numbers
import operator

from . import _native

_PADDING_STRINGS = ("same", "valid")


def _integer(name, value):
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        raise TypeError(f"{name}: expected an int, got {type(value).__name__}")
    return operator.index(value)


def positive_int(name, value):
    value = _integer(name, value)
    if value < 1:
        raise ValueError(f"{name}: must be positive, got {value}")
    return value


def int_pair(name, value, minimum):
    """An int or a sequence of one or two ints, as a pair, each at least `minimum`."""
    if isinstance(value, (tuple, list)):
        items = tuple(_integer(name, v) for v in value)
        if len(items) == 1:
            items = items * 2
        if len(items) != 2:
            raise ValueError(f"{name}: expected an int or 2 ints for a 2-D convolution, got {len(items)}")
    else:
        items = (_integer(name, value),) * 2
    if min(items) < minimum:
        adjective = "positive" if minimum == 1 else "non-negative"
        raise ValueError(f"{name}: must be {adjective}, got {value!r}")
    return items


def _same_padding(kernel, dilation):
    # PyTorch's 'same': the total d*(k-1) split with the odd pixel after (bottom / right).
    total = dilation * (kernel - 1)
    return total // 2, total - total // 2


def explicit_padding(padding, kernel_size, stride, dilation):
    """(top, bottom, left, right) for conv2d's `padding` argument."""
    if isinstance(padding, str):
        if padding not in _PADDING_STRINGS:
            raise ValueError(f"padding: expected 'same', 'valid', an int or a pair, got {padding!r}")
        if padding == "valid":
            return 0, 0, 0, 0
        if stride != (1, 1):
            raise ValueError("padding: 'same' is not supported for strided convolutions "
                             f"(stride={stride}), as in PyTorch")
        return _same_padding(kernel_size[0], dilation[0]) + _same_padding(kernel_size[1], dilation[1])
    ph, pw = int_pair("padding", padding, 0)
    return ph, ph, pw, pw


_ACTIVATIONS_EXPECTED = ("None, 'relu', ('clamp', lo, hi), 'leaky_relu', ('leaky_relu', negative_slope), "
                         "'hardswish', 'silu' or 'sigmoid'")
_PLAIN_ACTIVATIONS = ("relu", "hardswish", "silu", "sigmoid")
LEAKY_RELU_DEFAULT_SLOPE = 0.01  # torch.nn.LeakyReLU's


def _finite_number(what, value, activation):
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise TypeError(f"activation: {what} must be numbers, got {activation!r}")
    if not math.isfinite(value):
        raise ValueError(f"activation: {what} must be finite, got {activation!r}")
    return float(value)


def activation_fields(activation):
    """(kind, lo, hi, alpha) for the kernel's fused activation."""
    if activation is None:
        return "none", 0.0, 0.0, 0.0
    if isinstance(activation, str):
        if activation in _PLAIN_ACTIVATIONS:
            return activation, 0.0, 0.0, 0.0
        if activation == "leaky_relu":
            return "leaky_relu", 0.0, 0.0, LEAKY_RELU_DEFAULT_SLOPE
        raise ValueError(f"activation: expected {_ACTIVATIONS_EXPECTED}, got {activation!r}")
    if isinstance(activation, (tuple, list)) and len(activation) == 3 and activation[0] == "clamp":
        lo = _finite_number("clamp bounds", activation[1], activation)
        hi = _finite_number("clamp bounds", activation[2], activation)
        if lo > hi:
            raise ValueError(f"activation: clamp lower bound {lo} is above the upper bound {hi}")
        return "clamp", lo, hi, 0.0
    if isinstance(activation, (tuple, list)) and len(activation) == 2 and activation[0] == "leaky_relu":
        return "leaky_relu", 0.0, 0.0, _finite_number("leaky_relu slopes", activation[1], activation)
    raise ValueError(f"activation: expected {_ACTIVATIONS_EXPECTED}, got {activation!r}")


def weight_shape(weight):
    shape = getattr(weight, "shape", None)
    if shape is None:
        raise TypeError(f"weight: expected a torch.Tensor or a NumPy array, got {type(weight).__name__}")
    shape = tuple(int(d) for d in shape)
    if len(shape) != 4:
        raise ValueError("weight: expected 4 dimensions (out_channels, in_channels / groups, kh, kw), "
                         f"got shape {shape}")
    return shape


def layer_params(weight_dims, has_bias, stride, padding, dilation, groups, activation):
    """Everything conv2d needs but the input: a _native.LayerParams."""
    out_channels, in_per_group, kh, kw = weight_dims
    groups = positive_int("groups", groups)
    if min(weight_dims) < 1:
        raise ValueError(f"weight: every dimension must be positive, got shape {tuple(weight_dims)}")
    if out_channels % groups:
        raise ValueError(f"weight: out_channels={out_channels} is not divisible by groups={groups}")
    stride = int_pair("stride", stride, 1)
    dilation = int_pair("dilation", dilation, 1)
    top, bottom, left, right = explicit_padding(padding, (kh, kw), stride, dilation)
    act, lo, hi, alpha = activation_fields(activation)
    return _native.LayerParams(
        in_channels=in_per_group * groups, out_channels=out_channels, kh=kh, kw=kw,
        sh=stride[0], sw=stride[1], dh=dilation[0], dw=dilation[1],
        pad_top=top, pad_bottom=bottom, pad_left=left, pad_right=right,
        groups=groups, bias=bool(has_bias), act=act, lo=lo, hi=hi, alpha=alpha)


def threads_argument(threads, default):
    if threads is None:
        return default
    threads = _integer("threads", threads)
    if threads < 0:
        raise ValueError(f"threads: must not be negative, got {threads}")
    return threads
