"""convjit.conv2d and convjit.Kernel on NumPy arrays, against a float64 NumPy reference. No
PyTorch needed: this file is also ctest's quick check that the built package imports and runs."""
import numpy as np
import pytest

import convjit
from tolerance import tolerance


def reference_conv2d(x, w, b, stride, pads, dilation, groups):
    """Direct float64 convolution, NCHW / OIHW; pads = (top, bottom, left, right)."""
    x = np.pad(x.astype(np.float64), ((0, 0), (0, 0), pads[:2], pads[2:]))
    n, c, h, wd = x.shape
    oc, icg, kh, kw = w.shape
    oh = (h - dilation[0] * (kh - 1) - 1) // stride[0] + 1
    ow = (wd - dilation[1] * (kw - 1) - 1) // stride[1] + 1
    out = np.zeros((n, oc, oh, ow))
    ocg = oc // groups
    for g in range(groups):
        xs = x[:, g * icg:(g + 1) * icg]
        ws = w[g * ocg:(g + 1) * ocg].astype(np.float64)
        for i in range(kh):
            for j in range(kw):
                patch = xs[:, :, i * dilation[0]:i * dilation[0] + stride[0] * (oh - 1) + 1:stride[0],
                              j * dilation[1]:j * dilation[1] + stride[1] * (ow - 1) + 1:stride[1]]
                out[:, g * ocg:(g + 1) * ocg] += np.einsum("nchw,oc->nohw", patch, ws[:, :, i, j])
    if b is not None:
        out += b.astype(np.float64)[None, :, None, None]
    return out


def uniform(rng, *shape):
    return rng.uniform(-1, 1, shape).astype(np.float32)


CASES = [
    # (n, c, h, w, oc, k, stride, padding, dilation, groups, pads as PyTorch resolves them)
    (1, 1, 8, 8, 1, (3, 3), 1, 0, 1, 1, (0, 0, 0, 0)),
    (2, 3, 11, 9, 5, (3, 2), (2, 1), (1, 2), 1, 1, (1, 1, 2, 2)),
    (1, 4, 10, 10, 6, (4, 4), 1, "same", 1, 2, (1, 2, 1, 2)),
    (1, 6, 9, 12, 6, (3, 3), 1, "same", 2, 6, (2, 2, 2, 2)),
    (3, 2, 7, 7, 4, (1, 1), 2, "valid", 1, 1, (0, 0, 0, 0)),
]


@pytest.mark.parametrize("layout", ["nchw", "nhwc"])
@pytest.mark.parametrize("case", CASES)
def test_conv2d_on_arrays_matches_a_float64_reference(case, layout):
    n, c, h, w, oc, k, stride, padding, dilation, groups, pads = case
    rng = np.random.default_rng(len(CASES) * h + w)
    x, wt, b = uniform(rng, n, c, h, w), uniform(rng, oc, c // groups, *k), uniform(rng, oc)
    pair = lambda v: v if isinstance(v, tuple) else (v, v)  # noqa: E731
    expected = reference_conv2d(x, wt, b, pair(stride), pads, pair(dilation), groups)
    given = x if layout == "nchw" else np.ascontiguousarray(x.transpose(0, 2, 3, 1))
    y = convjit.conv2d(given, wt, b, stride, padding, dilation, groups, layout=layout)
    if layout == "nhwc":
        y = y.transpose(0, 3, 1, 2)
    assert y.dtype == np.float32 and y.shape == expected.shape
    assert np.abs(y - expected).max() <= tolerance(*k, c // groups)


def test_unbatched_array_gives_unbatched_output():
    rng = np.random.default_rng(1)
    x, wt = uniform(rng, 2, 6, 6), uniform(rng, 3, 2, 3, 3)
    y = convjit.conv2d(x, wt, padding=1)
    assert y.shape == (3, 6, 6)
    np.testing.assert_allclose(y, reference_conv2d(x[None], wt, None, (1, 1), (1, 1, 1, 1), (1, 1), 1)[0],
                               atol=tolerance(3, 3, 2))


def test_fused_activations_clip_the_output():
    rng = np.random.default_rng(2)
    x, wt = uniform(rng, 1, 3, 8, 8), uniform(rng, 4, 3, 3, 3)
    plain = reference_conv2d(x, wt, None, (1, 1), (0,) * 4, (1, 1), 1)
    relu = convjit.conv2d(x, wt, activation="relu")
    clamp = convjit.conv2d(x, wt, activation=("clamp", -0.25, 0.5))
    atol = tolerance(3, 3, 3)
    np.testing.assert_allclose(relu, np.maximum(plain, 0), atol=atol)
    np.testing.assert_allclose(clamp, np.clip(plain, -0.25, 0.5), atol=atol)


def test_non_contiguous_arrays_are_read_correctly():
    rng = np.random.default_rng(3)
    x = uniform(rng, 1, 3, 10, 20)[:, :, :, ::2]
    wt = uniform(rng, 2, 3, 3, 3)
    np.testing.assert_allclose(convjit.conv2d(x, wt), reference_conv2d(x, wt, None, (1, 1), (0,) * 4, (1, 1), 1),
                               atol=tolerance(3, 3, 3))


def test_kernel_packs_once_and_runs_into_a_given_output():
    rng = np.random.default_rng(4)
    k = convjit.Kernel.for_conv2d((2, 3, 9, 9), (4, 3, 3, 3), stride=2, padding=1, layout="nhwc")
    assert k.input_shape == (2, 9, 9, 3) and k.output_shape == (2, 5, 5, 4) and k.weight_shape == (4, 3, 3, 3)
    wt, b = uniform(rng, 4, 3, 3, 3), uniform(rng, 4)
    packed = k.pack_weights(wt, b)
    out = np.empty(k.output_shape, np.float32)
    for seed in range(3):
        x = uniform(np.random.default_rng(seed), 2, 3, 9, 9)
        y = k.run(np.ascontiguousarray(x.transpose(0, 2, 3, 1)), packed, out=out, threads=1)
        assert y is not None and np.shares_memory(y, out)
        expected = reference_conv2d(x, wt, b, (2, 2), (1, 1, 1, 1), (1, 1), 1).transpose(0, 2, 3, 1)
        np.testing.assert_allclose(out, expected, atol=tolerance(3, 3, 3))


def test_kernel_from_a_spec_string_describes_itself():
    k = convjit.Kernel("c=1,h=8,w=8,oc=1,k=3,layout=nchw")
    assert k.layout == "nchw" and k.input_shape == (1, 1, 8, 8) and k.output_shape == (1, 1, 6, 6)
    assert k.backend in ("xbyak", "llvm", "generic", "reference") and k.name
    assert "backend" in k.describe()


def test_argument_errors_name_the_argument():
    x, wt = np.zeros((1, 2, 8, 8), np.float32), np.zeros((3, 2, 3, 3), np.float32)
    with pytest.raises(TypeError, match="^input: expected float32"):
        convjit.conv2d(x.astype(np.float64), wt)
    with pytest.raises(TypeError, match="^weight: expected float32"):
        convjit.conv2d(x, wt.astype(np.float64))
    with pytest.raises(ValueError, match="^layout:"):
        convjit.conv2d(x, wt, layout="chwn")
    with pytest.raises(convjit.Error, match="input") as info:
        convjit.conv2d(np.zeros((1, 5, 8, 8), np.float32), wt)
    assert info.value.field == "input"
    with pytest.raises(convjit.Error) as info:
        convjit.Kernel("c=1,h=8,w=8,oc=1,k=3,s=0")
    assert info.value.field == "sh" and isinstance(info.value, ValueError)
