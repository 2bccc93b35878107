"""8-bit convolutions on convjit's integer kernels, with the semantics of ONNX and PyTorch.

    qlinear_conv(x, x_scale, x_zero_point, w, w_scale, w_zero_point, y_scale, y_zero_point,
                 bias=None, ...)          ONNX QLinearConv on NumPy arrays (NCHW)
    conv_integer(x, w, x_zero_point=None, w_zero_point=None, ...)
                                          ONNX ConvInteger on NumPy arrays (int32 out)
    conv2d(input, weight, bias, stride, padding, dilation, groups, scale, zero_point)
                                          torch.ao.nn.quantized.functional.conv2d

Every result is what convjit's exact integer reference computes (core/requantization.hpp's
formula: float32 multiplier, one rounding per step, round half to even); ONNX's reference
multiplies in float64 and PyTorch's engines round in their own order, so a value within a
hair of a half may differ from theirs by one step.

The kernels multiply u8 or s8 input by s8 weights with zero point 0. Other weights (u8, or a
non-zero zero point, as ONNX allows) are split into s8 parts whose sum is w - w_zero_point,
each run as its own int32 convolution; the parts' sum is then requantized here by the same
formula. Exact, but one pass per part (two or three).

Errors are ValueError or TypeError naming the argument.
"""
import math
import numbers

import numpy as np

from . import _native

__all__ = ["qlinear_conv", "conv_integer", "conv2d"]

_TYPES = {np.dtype(np.uint8): "u8", np.dtype(np.int8): "s8"}
_RANGES = {"u8": (0, 255), "s8": (-128, 127)}


def _integer_array(name, value, what="uint8 or int8"):
    if not isinstance(value, np.ndarray):
        raise TypeError(f"{name}: expected a NumPy array, got {type(value).__name__}")
    if value.dtype not in _TYPES:
        raise TypeError(f"{name}: expected {what}, got {value.dtype}")
    return value


def _scale(name, value):
    array = np.asarray(value, dtype=np.float64).reshape(-1)
    if array.size == 0 or not np.all(np.isfinite(array)) or not np.all(array > 0):
        raise ValueError(f"{name}: must be positive and finite, got {value!r}")
    return array.astype(np.float32)


def _zero_point(name, value, dtype, count=1):
    """The zero point(s) as int32: a scalar, or one per channel when count > 1 allows."""
    if value is None:
        return np.zeros(1, dtype=np.int32)
    array = np.asarray(value)
    if array.dtype != dtype:
        raise TypeError(f"{name}: expected {np.dtype(dtype)} (the tensor's type), got {array.dtype}")
    array = array.reshape(-1).astype(np.int32)
    if array.size not in (1, count):
        raise ValueError(f"{name}: expected 1 or {count} values, got {array.size}")
    return array


def _pair(name, value, default):
    if value is None:
        return default
    items = tuple(int(v) for v in value)
    if len(items) != 2 or min(items) < 1:
        raise ValueError(f"{name}: expected 2 positive ints for a 2-D convolution, got {value!r}")
    return items


def _padding(auto_pad, pads, size, kernel, strides, dilations):
    """(top, bottom, left, right) from ONNX's auto_pad and pads [top, left, bottom, right]."""
    if auto_pad in ("NOTSET", None, b"NOTSET"):
        if pads is None:
            return 0, 0, 0, 0
        pads = tuple(int(p) for p in pads)
        if len(pads) != 4 or min(pads) < 0:
            raise ValueError(f"pads: expected 4 non-negative ints [top, left, bottom, right], got {pads!r}")
        return pads[0], pads[2], pads[1], pads[3]
    if pads is not None:
        raise ValueError("pads: cannot be combined with auto_pad=" + repr(auto_pad))
    if auto_pad == "VALID":
        return 0, 0, 0, 0
    if auto_pad not in ("SAME_UPPER", "SAME_LOWER"):
        raise ValueError(f"auto_pad: expected NOTSET, SAME_UPPER, SAME_LOWER or VALID, got {auto_pad!r}")
    result = []
    for i in range(2):
        out = -(-size[i] // strides[i])
        total = max((out - 1) * strides[i] + (kernel[i] - 1) * dilations[i] + 1 - size[i], 0)
        small = total // 2
        result.append((total - small, small) if auto_pad == "SAME_LOWER" else (small, total - small))
    return result[0][0], result[0][1], result[1][0], result[1][1]


class _Layer:
    """An ONNX-style 8-bit layer: NCHW input, OIHW weights, resolved padding and types."""

    def __init__(self, x, w, auto_pad, dilations, group, kernel_shape, pads, strides):
        if x.ndim != 4:
            raise ValueError(f"x: expected 4 dimensions (N, C, H, W), got shape {x.shape}")
        if w.ndim != 4:
            raise ValueError(f"w: expected 4 dimensions (M, C/group, kH, kW), got shape {w.shape}")
        if isinstance(group, bool) or not isinstance(group, numbers.Integral) or group < 1:
            raise ValueError(f"group: expected a positive int, got {group!r}")
        self.n, self.c, self.h, self.w = (int(d) for d in x.shape)
        self.oc, icg, self.kh, self.kw = (int(d) for d in w.shape)
        if kernel_shape is not None and tuple(int(k) for k in kernel_shape) != (self.kh, self.kw):
            raise ValueError(f"kernel_shape: {tuple(kernel_shape)} differs from w's {(self.kh, self.kw)}")
        if icg * group != self.c:
            raise ValueError(f"w: in_channels/group = {icg} with group={group} does not match x's "
                             f"{self.c} channels")
        if self.oc % group:
            raise ValueError(f"w: {self.oc} output channels are not divisible by group={group}")
        self.group = int(group)
        self.strides = _pair("strides", strides, (1, 1))
        self.dilations = _pair("dilations", dilations, (1, 1))
        self.pads = _padding(auto_pad, pads, (self.h, self.w), (self.kh, self.kw), self.strides,
                             self.dilations)
        self.src = _TYPES[x.dtype]
        self.x_nhwc = np.ascontiguousarray(x.transpose(0, 2, 3, 1))
        self.w_oihw = w

    def spec(self, dst, bias, relu=False):
        top, bottom, left, right = self.pads
        text = (f"n={self.n},c={self.c},h={self.h},w={self.w},oc={self.oc},kh={self.kh},kw={self.kw},"
                f"sh={self.strides[0]},sw={self.strides[1]},dh={self.dilations[0]},dw={self.dilations[1]},"
                f"pt={top},pb={bottom},pl={left},pr={right},g={self.group},bias={1 if bias else 0},"
                f"src={self.src},dst={dst}")
        return text + (",act=relu" if relu else "")

    def run(self, dst, weights_oihw_s8, x_scale, x_zero_point, w_scales, y_scale, y_zero_point,
            bias, threads, relu=False):
        hwio = np.ascontiguousarray(weights_oihw_s8.transpose(2, 3, 1, 0))
        out = _native.quantized_conv(self.spec(dst, bias is not None, relu), self.x_nhwc, hwio,
                                     float(x_scale), int(x_zero_point), [float(s) for s in w_scales],
                                     float(y_scale), int(y_zero_point), bias, threads)
        return np.ascontiguousarray(out.transpose(0, 3, 1, 2))


def _s8_parts(effective):
    """int8 arrays whose sum is `effective` (int32 values in [-255, 255]): one when it fits."""
    parts = []
    rest = effective.astype(np.int32)
    while True:
        part = np.clip(rest, -128, 127)
        parts.append(part.astype(np.int8))
        rest = rest - part
        if not rest.any():
            return parts


def _effective_weights(w, w_zero_point):
    zero_points = w_zero_point.reshape(-1, 1, 1, 1) if w_zero_point.size > 1 else w_zero_point[0]
    return w.astype(np.int32) - zero_points


def _accumulators(layer, w, w_zero_point, x_zero_point, threads):
    """int32 sums of (x - x_zero_point)(w - w_zero_point) over the taps, as ConvInteger."""
    effective = _effective_weights(w, w_zero_point)
    total = None
    for part in _s8_parts(effective):
        acc = layer.run("s32", part, 1.0, x_zero_point, [1.0], 1.0, 0, None, threads)
        total = acc if total is None else total + acc  # int32 lanes wrap, as the kernels do
    return total


def conv_integer(x, w, x_zero_point=None, w_zero_point=None, *, auto_pad="NOTSET", dilations=None,
                 group=1, kernel_shape=None, pads=None, strides=None, threads=0):
    """ONNX ConvInteger: int32 sums of (x - x_zero_point) * (w - w_zero_point), NCHW."""
    x = _integer_array("x", x)
    w = _integer_array("w", w)
    layer = _Layer(x, w, auto_pad, dilations, group, kernel_shape, pads, strides)
    x_zp = _zero_point("x_zero_point", x_zero_point, x.dtype)
    if x_zp.size != 1:
        raise ValueError("x_zero_point: expected one value (per-tensor)")
    w_zp = _zero_point("w_zero_point", w_zero_point, w.dtype, layer.oc)
    return _accumulators(layer, w, w_zp, x_zp[0], threads)


def _requantize(acc, multiplier, lowest, highest, zero_point, dtype):
    """core/requantization.hpp's formula without a float bias: fma(a, m, +0) rounds like a * m."""
    y = acc.astype(np.float32) * multiplier.reshape(1, -1, 1, 1)
    y = np.clip(y, np.float32(lowest - zero_point), np.float32(highest - zero_point))
    return (np.rint(y).astype(np.int32) + zero_point).astype(dtype)


def qlinear_conv(x, x_scale, x_zero_point, w, w_scale, w_zero_point, y_scale, y_zero_point,
                 bias=None, *, auto_pad="NOTSET", dilations=None, group=1, kernel_shape=None,
                 pads=None, strides=None, threads=0):
    """ONNX QLinearConv on NCHW NumPy arrays; y has y_zero_point's type (uint8 or int8)."""
    x = _integer_array("x", x)
    w = _integer_array("w", w)
    layer = _Layer(x, w, auto_pad, dilations, group, kernel_shape, pads, strides)
    x_scale = _scale("x_scale", x_scale)
    w_scale = _scale("w_scale", w_scale)
    y_scale = _scale("y_scale", y_scale)
    if x_scale.size != 1 or y_scale.size != 1:
        raise ValueError("x_scale, y_scale: expected one value each (per-tensor)")
    if w_scale.size not in (1, layer.oc):
        raise ValueError(f"w_scale: expected 1 or {layer.oc} values, got {w_scale.size}")
    x_zp = _zero_point("x_zero_point", x_zero_point, x.dtype)
    w_zp = _zero_point("w_zero_point", w_zero_point, w.dtype, layer.oc)
    y_zero = np.asarray(y_zero_point)
    if y_zero.dtype not in _TYPES or y_zero.size != 1:
        raise TypeError(f"y_zero_point: expected one uint8 or int8 value, got {y_zero_point!r}")
    dst = _TYPES[y_zero.dtype]
    y_zp = int(y_zero.reshape(-1)[0])
    if bias is not None:
        if not isinstance(bias, np.ndarray) or bias.dtype != np.int32:
            raise TypeError("bias: expected an int32 NumPy array (ONNX's B)")
        if bias.shape != (layer.oc,):
            raise ValueError(f"bias: expected shape ({layer.oc},), got {bias.shape}")
    effective = _effective_weights(w, w_zp)
    parts = _s8_parts(effective)
    if len(parts) == 1:  # s8 weights the kernel takes as they are: one pass, requantized in it
        return layer.run(dst, parts[0], x_scale[0], x_zp[0], w_scale, y_scale[0], y_zp,
                         None if bias is None else np.ascontiguousarray(bias), threads)
    acc = _accumulators(layer, w, w_zp, x_zp[0], threads)
    if bias is not None:
        acc = acc + bias.reshape(1, -1, 1, 1)
    scales = np.broadcast_to(w_scale, (layer.oc,))
    multiplier = (x_scale[0] * scales) / y_scale[0]  # float32 throughout, in this order
    lowest, highest = _RANGES[dst]
    return _requantize(acc, multiplier.astype(np.float32), lowest, highest, y_zp, y_zero.dtype)


def conv2d(input, weight, bias, stride=1, padding=0, dilation=1, groups=1, padding_mode="zeros",
           scale=1.0, zero_point=0, dtype=None, *, relu=False, threads=0):
    """torch.ao.nn.quantized.functional.conv2d: quint8 NCHW input, qint8 weight (per tensor or
    per channel, zero point 0), a float bias, quint8 output with `scale` and `zero_point`.
    relu=True: torch.ao.nn.intrinsic.quantized.ConvReLU2d's clamp at the zero point."""
    import torch

    if padding_mode != "zeros":
        raise ValueError(f"padding_mode: only 'zeros' is supported, got {padding_mode!r}")
    if dtype not in (None, torch.quint8):
        raise ValueError(f"dtype: only torch.quint8 output is supported, got {dtype}")
    if not isinstance(input, torch.Tensor) or input.dtype != torch.quint8:
        raise TypeError(f"input: expected a quint8 quantized tensor, got "
                        f"{getattr(input, 'dtype', type(input).__name__)}")
    if input.qscheme() != torch.per_tensor_affine:
        raise ValueError(f"input: expected per-tensor affine quantization, got {input.qscheme()}")
    if not isinstance(weight, torch.Tensor) or weight.dtype != torch.qint8:
        raise TypeError(f"weight: expected a qint8 quantized tensor, got "
                        f"{getattr(weight, 'dtype', type(weight).__name__)}")
    if weight.qscheme() in (torch.per_tensor_affine, torch.per_tensor_symmetric):
        scales, zero_points = [weight.q_scale()], [weight.q_zero_point()]
    else:
        scales = weight.q_per_channel_scales().tolist()
        zero_points = weight.q_per_channel_zero_points().tolist()
    if any(zero_points):
        raise ValueError("weight: zero points other than 0 are not supported for qint8 weights")
    from . import _arguments
    stride = _arguments.int_pair("stride", stride, 1)
    dilation = _arguments.int_pair("dilation", dilation, 1)
    kh, kw = int(weight.shape[2]), int(weight.shape[3])
    top, bottom, left, right = _arguments.explicit_padding(padding, (kh, kw), stride, dilation)
    x = input.int_repr().numpy()
    if x.ndim == 3:
        x = x[None]
    layer = _Layer(x, weight.int_repr().numpy(), "NOTSET", dilation, groups, None,
                   (top, left, bottom, right), stride)
    b = None
    if bias is not None:
        b = np.ascontiguousarray(bias.detach().to(torch.float32).numpy())
    if not (isinstance(scale, numbers.Real) and math.isfinite(scale) and scale > 0):
        raise ValueError(f"scale: must be positive and finite, got {scale!r}")
    y = layer.run("u8", weight.int_repr().numpy(), input.q_scale(), input.q_zero_point(), scales,
                  scale, int(zero_point), b, threads, relu)
    out = torch.from_numpy(y)
    if input.dim() == 3:
        out = out[0]
    return torch._make_per_tensor_quantized_tensor(out, float(scale), int(zero_point))
