"""convjit.quantized: ONNX QLinearConv and ConvInteger on NumPy arrays against ONNX's own
conformance cases and an exact NumPy oracle, and PyTorch's quantized conv2d. On a CPU without
the 8-bit kernels (AVX512-VNNI) every test is skipped, visibly."""
import numpy as np
import pytest

import convjit
from convjit import quantized


def _kernels_run_here():
    try:
        convjit.Kernel("c=4,h=2,w=2,oc=4,k=1,src=u8")
        return True, ""
    except convjit.Error as e:
        return False, str(e)


_RUNS, _WHY_NOT = _kernels_run_here()
pytestmark = pytest.mark.skipif(not _RUNS, reason=f"no 8-bit kernels on this CPU: {_WHY_NOT}")


# ------------------------------------------------------------------ an exact NumPy oracle

def integer_sums(x, w, x_zp, w_zp, stride, pads, dilation, groups):
    """int32 (wrapped) sums of (x - x_zp)(w - w_zp) over the in-bounds taps, NCHW / OIHW;
    pads = (top, bottom, left, right), padding being a real zero."""
    xs = x.astype(np.int64) - x_zp
    xs = np.pad(xs, ((0, 0), (0, 0), pads[:2], pads[2:]))
    ws = w.astype(np.int64) - np.asarray(w_zp, dtype=np.int64).reshape(-1, 1, 1, 1)
    n, c, h, wd = xs.shape
    oc, icg, kh, kw = w.shape
    oh = (h - dilation[0] * (kh - 1) - 1) // stride[0] + 1
    ow = (wd - dilation[1] * (kw - 1) - 1) // stride[1] + 1
    out = np.zeros((n, oc, oh, ow), dtype=np.int64)
    ocg = oc // groups
    for g in range(groups):
        xg = xs[:, g * icg:(g + 1) * icg]
        for i in range(kh):
            for j in range(kw):
                patch = xg[:, :, i * dilation[0]:i * dilation[0] + stride[0] * (oh - 1) + 1:stride[0],
                              j * dilation[1]:j * dilation[1] + stride[1] * (ow - 1) + 1:stride[1]]
                out[:, g * ocg:(g + 1) * ocg] += np.einsum("nchw,oc->nohw", patch,
                                                           ws[g * ocg:(g + 1) * ocg, :, i, j])
    return out.astype(np.int32)  # two's complement, as int32 lanes wrap


def requantized(acc, x_scale, w_scale, y_scale, y_zp, dtype):
    """core/requantization.hpp's formula in float32 (no float bias: fma(a, m, 0) is a * m)."""
    m = (np.float32(x_scale) * np.asarray(w_scale, np.float32)) / np.float32(y_scale)
    y = acc.astype(np.float32) * np.broadcast_to(m, (acc.shape[1],)).reshape(1, -1, 1, 1)
    lo, hi = (0, 255) if dtype == np.uint8 else (-128, 127)
    y = np.clip(y, np.float32(lo - y_zp), np.float32(hi - y_zp))
    return (np.rint(y).astype(np.int32) + y_zp).astype(dtype)


def random_layer(rng, x_type, w_type, groups=1):
    c = int(rng.integers(1, 9)) * groups
    oc = int(rng.integers(1, 7)) * groups
    kh, kw = int(rng.integers(1, 4)), int(rng.integers(1, 4))
    h, w = int(rng.integers(kh, 11)), int(rng.integers(kw, 11))
    info = np.iinfo(x_type)
    x = rng.integers(info.min, info.max + 1, size=(int(rng.integers(1, 3)), c, h, w)).astype(x_type)
    winfo = np.iinfo(w_type)
    wt = rng.integers(winfo.min, winfo.max + 1, size=(oc, c // groups, kh, kw)).astype(w_type)
    return x, wt


# ------------------------------------------------------------------ ONNX's conformance cases

def onnx_cases(op_type):
    onnx = pytest.importorskip("onnx", reason="python3-onnx holds ONNX's conformance cases")
    from onnx.backend.test.case.node import convinteger, qlinearconv
    module = qlinearconv if op_type == "QLinearConv" else convinteger
    cls = qlinearconv.QLinearConv if op_type == "QLinearConv" else convinteger.ConvInteger
    cases = []
    original = module.expect
    module.expect = lambda node, inputs, outputs, name, **kw: cases.append((node, inputs, outputs, name))
    try:
        for name in dir(cls):
            if name.startswith("export"):
                getattr(cls, name)()
    finally:
        module.expect = original
    assert cases, f"ONNX lists no {op_type} case"
    return [(name, {a.name: onnx.helper.get_attribute_value(a) for a in node.attribute}, inputs, outputs)
            for node, inputs, outputs, name in cases]


@pytest.mark.parametrize("op_type", ["QLinearConv", "ConvInteger"])
def test_onnx_conformance_cases_are_reproduced_exactly(op_type):
    for name, attributes, inputs, outputs in onnx_cases(op_type):
        run = quantized.qlinear_conv if op_type == "QLinearConv" else quantized.conv_integer
        got = run(*inputs, **attributes)
        assert got.dtype == outputs[0].dtype, name
        np.testing.assert_array_equal(got, outputs[0], err_msg=name)


# ------------------------------------------------------------------ against the oracle

@pytest.mark.parametrize("x_type", [np.uint8, np.int8])
@pytest.mark.parametrize("w_type", [np.int8, np.uint8])
def test_conv_integer_equals_the_exact_sums(x_type, w_type):
    rng = np.random.default_rng(7)
    for trial in range(12):
        groups = 1 + trial % 3
        x, w = random_layer(rng, x_type, w_type, groups)
        x_zp = x_type(rng.integers(np.iinfo(x_type).min, np.iinfo(x_type).max + 1))
        w_zp = rng.integers(np.iinfo(w_type).min, np.iinfo(w_type).max + 1, size=w.shape[0]).astype(w_type)
        stride = (int(rng.integers(1, 3)), int(rng.integers(1, 3)))
        pads = tuple(int(p) for p in rng.integers(0, 2, size=4))
        got = quantized.conv_integer(x, w, x_zp, w_zp, strides=stride, group=groups,
                                     pads=[pads[0], pads[2], pads[1], pads[3]])
        want = integer_sums(x, w, int(x_zp), w_zp, stride, pads, (1, 1), groups)
        np.testing.assert_array_equal(got, want)


@pytest.mark.parametrize("x_type", [np.uint8, np.int8])
@pytest.mark.parametrize("w_zero_point", ["zero", "per_channel"])
def test_qlinear_conv_equals_the_exact_formula(x_type, w_zero_point):
    rng = np.random.default_rng(11)
    for trial in range(10):
        x, w = random_layer(rng, x_type, np.int8, 1 + trial % 2)
        oc = w.shape[0]
        x_zp = x_type(rng.integers(np.iinfo(x_type).min, np.iinfo(x_type).max + 1))
        w_zp = (np.zeros(oc, np.int8) if w_zero_point == "zero"
                else rng.integers(-20, 21, size=oc).astype(np.int8))
        x_scale, y_scale = np.float32(0.02), np.float32(0.05 * np.sqrt(w[0].size))
        w_scale = rng.uniform(0.005, 0.02, size=oc).astype(np.float32)
        y_zp = np.uint8(rng.integers(0, 256))
        bias = rng.integers(-3000, 3000, size=oc).astype(np.int32)
        dilation = (1 + trial % 2, 1)
        pads = (1, 0, 0, 1)
        h_needed = dilation[0] * (w.shape[2] - 1) + 1
        if x.shape[2] + 1 < h_needed:
            continue
        got = quantized.qlinear_conv(x, x_scale, x_zp, w, w_scale, w_zp, y_scale, y_zp, bias,
                                     dilations=dilation, group=1 + trial % 2,
                                     pads=[pads[0], pads[2], pads[1], pads[3]])
        acc = integer_sums(x, w, int(x_zp), w_zp, (1, 1), pads, dilation, 1 + trial % 2)
        acc = acc + bias.reshape(1, -1, 1, 1)
        np.testing.assert_array_equal(got, requantized(acc, x_scale, w_scale, y_scale, int(y_zp), np.uint8))


def test_same_padding_puts_the_odd_pixel_where_auto_pad_says():
    rng = np.random.default_rng(3)
    x = rng.integers(0, 256, size=(1, 3, 6, 6)).astype(np.uint8)
    w = rng.integers(-128, 128, size=(4, 3, 2, 2)).astype(np.int8)
    upper = quantized.conv_integer(x, w, auto_pad="SAME_UPPER")
    lower = quantized.conv_integer(x, w, auto_pad="SAME_LOWER")
    np.testing.assert_array_equal(upper, integer_sums(x, w, 0, 0, (1, 1), (0, 1, 0, 1), (1, 1), 1))
    np.testing.assert_array_equal(lower, integer_sums(x, w, 0, 0, (1, 1), (1, 0, 1, 0), (1, 1), 1))


# ------------------------------------------------------------------ bad input

def test_bad_arguments_name_themselves():
    x = np.zeros((1, 4, 3, 3), np.uint8)
    w = np.zeros((2, 4, 1, 1), np.int8)
    ok = dict(x_scale=0.1, x_zero_point=np.uint8(0), w=w, w_scale=0.1, w_zero_point=np.int8(0),
              y_scale=0.1, y_zero_point=np.uint8(0))
    with pytest.raises(ValueError, match="x_scale"):
        quantized.qlinear_conv(x, **{**ok, "x_scale": 0.0})
    with pytest.raises(ValueError, match="y_scale"):
        quantized.qlinear_conv(x, **{**ok, "y_scale": float("nan")})
    with pytest.raises(TypeError, match="x_zero_point"):
        quantized.qlinear_conv(x, **{**ok, "x_zero_point": np.int8(0)})
    with pytest.raises(TypeError, match="x:"):
        quantized.qlinear_conv(x.astype(np.float32), **ok)
    with pytest.raises(ValueError, match="w:"):
        quantized.qlinear_conv(x, **{**ok, "w": np.zeros((2, 3, 1, 1), np.int8)})
    with pytest.raises(TypeError, match="bias"):
        quantized.qlinear_conv(x, **ok, bias=np.zeros(2, np.float32))
    with pytest.raises(ValueError, match="auto_pad"):
        quantized.conv_integer(x, w, auto_pad="SAME")


# ------------------------------------------------------------------ PyTorch's quantized conv2d

def test_torch_quantized_conv2d_is_within_one_step_of_pytorch():
    torch = pytest.importorskip("torch")
    torch.set_num_threads(1)
    torch.manual_seed(0)
    qf = torch.ao.nn.quantized.functional
    for groups, stride, padding in [(1, 1, 1), (2, 2, 0), (32, 1, 1), (1, 1, 0)]:
        c, oc = 32, 64 if groups != 32 else 32
        x = torch.quantize_per_tensor(torch.rand(1, c, 20, 20) * 4, 0.02, 3, torch.quint8)
        w_float = torch.randn(oc, c // groups, 3, 3) * 0.1
        w = torch.quantize_per_channel(w_float, torch.rand(oc) * 0.002 + 0.001,
                                       torch.zeros(oc, dtype=torch.long), 0, torch.qint8)
        b = torch.randn(oc)
        want = qf.conv2d(x, w, b, stride=stride, padding=padding, groups=groups, scale=0.05,
                         zero_point=10)
        got = quantized.conv2d(x, w, b, stride=stride, padding=padding, groups=groups, scale=0.05,
                               zero_point=10)
        assert got.q_scale() == 0.05 and got.q_zero_point() == 10
        diff = (got.int_repr().int() - want.int_repr().int()).abs()
        assert diff.max().item() <= 1
        assert (diff == 0).float().mean().item() >= 0.999


# ------------------------------------------------------------------ quantized torchvision models

def _quantized_torchvision(name, size):
    torch = pytest.importorskip("torch")
    torchvision = pytest.importorskip("torchvision")
    from torch_support import randomised_batchnorm
    torch.set_num_threads(1)
    torch.backends.quantized.engine = "onednn"
    model = randomised_batchnorm(getattr(torchvision.models.quantization, name)(weights=None, quantize=False))
    model.fuse_model()
    model.qconfig = torch.ao.quantization.get_default_qconfig("onednn")
    torch.ao.quantization.prepare(model, inplace=True)
    torch.manual_seed(0)
    with torch.no_grad():
        for _ in range(4):
            model(torch.randn(1, 3, size, size))
    return torch.ao.quantization.convert(model, inplace=True)


@pytest.mark.parametrize("name", ["mobilenet_v2", "resnet18"])
def test_converted_quantized_models_match_pytorch_layer_by_layer(name):
    import copy
    import torch
    import convjit.torch as cjt
    model = _quantized_torchvision(name, 64)
    converted = cjt.convert(copy.deepcopy(model))
    replaced = [m for m in converted.modules() if isinstance(m, cjt.QuantizedConv2d)]
    originals = [m for m in model.modules() if type(m) in cjt._quantized_conv_types()]
    assert len(replaced) == len(originals) > 0
    # Each layer given PyTorch's own input: within one step, and equal almost everywhere.
    seen = []
    hooks = [m.register_forward_hook(lambda m, i, o: seen.append((m, i[0], o))) for m in originals]
    x = torch.randn(1, 3, 64, 64)
    with torch.no_grad():
        want_logits = model(x)
    for h in hooks:
        h.remove()
    equal = total = 0
    for module, layer_input, layer_output in seen:
        got = cjt.QuantizedConv2d(module)(layer_input)
        diff = (got.int_repr().int() - layer_output.int_repr().int()).abs()
        assert diff.max().item() <= 1, module
        equal += (diff == 0).sum().item()
        total += diff.numel()
    assert equal / total >= 0.999
    with torch.no_grad():
        got_logits = converted(x)
    assert torch.nn.functional.cosine_similarity(got_logits.flatten(), want_logits.flatten(), dim=0) >= 0.999


def test_quantized_conv2d_refuses_a_float_convolution():
    import torch
    import convjit.torch as cjt
    with pytest.raises(cjt.ConversionError, match="quantized Conv2d"):
        cjt.QuantizedConv2d(torch.nn.Conv2d(4, 4, 3))
