"""convjit.conv2d against torch.nn.functional.conv2d computed in float64, on 600 random
configurations: both tensor memory formats and both NumPy layouts, every padding form
('same' with even kernels included), groups, depthwise, dilation, stride, bias, activations,
batches and unbatched inputs. Also: the output's memory format is the one PyTorch gives."""
import random

import numpy as np
import pytest

torch = pytest.importorskip("torch")
F = torch.nn.functional

import convjit  # noqa: E402
import convjit.torch  # noqa: E402
from tolerance import tolerance  # noqa: E402

CONFIGURATIONS = 600
INPUT_KINDS = ("tensor_nchw", "tensor_channels_last", "array_nchw", "array_nhwc")


def random_configuration(seed):
    rng = random.Random(seed)
    grouping = rng.choice(["dense", "dense", "grouped", "depthwise"])
    if grouping == "dense":
        groups, c, oc = 1, rng.randint(1, 12), rng.randint(1, 12)
    elif grouping == "grouped":
        groups = rng.randint(2, 4)
        c, oc = groups * rng.randint(1, 4), groups * rng.randint(1, 4)
    else:  # depthwise, sometimes with a channel multiplier
        groups = c = rng.randint(1, 16)
        oc = c * rng.choice([1, 1, 2])
    kh, kw = rng.randint(1, 5), rng.randint(1, 5)
    dh, dw = rng.choice([1, 1, 2, 3]), rng.choice([1, 1, 2])
    padding_form = rng.choice(["int", "pair", "same", "valid"])
    stride = 1 if padding_form == "same" else rng.choice([1, 2, 3, (1, 2), (2, 1)])
    padding = {"int": rng.randint(0, 3), "pair": (rng.randint(0, 2), rng.randint(0, 3)),
               "same": "same", "valid": "valid"}[padding_form]
    activation = rng.choice([None, None, "relu", ("clamp", -rng.random(), rng.random())])
    # Sizes at least the dilated kernel, so every padding form is legal.
    h = (kh - 1) * dh + 1 + rng.randint(0, 9)
    w = (kw - 1) * dw + 1 + rng.randint(0, 9)
    batch = rng.choice([None, 1, 1, 2, 3])  # None: an unbatched (C, H, W) input
    return dict(seed=seed, c=c, oc=oc, groups=groups, k=(kh, kw), stride=stride, padding=padding,
                dilation=(dh, dw), h=h, w=w, batch=batch, bias=rng.random() < 0.6,
                activation=activation, kind=INPUT_KINDS[seed % len(INPUT_KINDS)])


def expected_output(cfg, x, weight, bias):
    y = F.conv2d(x.double(), weight.double(), None if bias is None else bias.double(),
                 cfg["stride"], cfg["padding"], cfg["dilation"], cfg["groups"])
    act = cfg["activation"]
    if act == "relu":
        return y.clamp(min=0)
    if act is not None:
        return y.clamp(act[1], act[2])
    return y


def run_convjit(cfg, x, weight, bias):
    args = (cfg["stride"], cfg["padding"], cfg["dilation"], cfg["groups"])
    kind, activation = cfg["kind"], cfg["activation"]
    if kind == "tensor_nchw":
        return convjit.conv2d(x, weight, bias, *args, activation=activation)
    if kind == "tensor_channels_last":
        given = x.to(memory_format=torch.channels_last) if x.dim() == 4 else x.permute(1, 2, 0).contiguous().permute(2, 0, 1)
        return convjit.conv2d(given, weight, bias, *args, activation=activation)
    np_bias = None if bias is None else bias.numpy()
    if kind == "array_nchw":
        return torch.from_numpy(convjit.conv2d(x.numpy(), weight.numpy(), np_bias, *args, activation=activation))
    nhwc = np.ascontiguousarray(np.moveaxis(x.numpy(), -3, -1))
    y = convjit.conv2d(nhwc, weight.numpy(), np_bias, *args, activation=activation, layout="nhwc")
    return torch.from_numpy(np.moveaxis(y, -1, -3))


# PyTorch warns that its own odd-pixel padding needs a copy; that is its business.
@pytest.mark.filterwarnings("ignore:Using padding=.same. with even kernel")
@pytest.mark.parametrize("seed", range(CONFIGURATIONS))
def test_conv2d_matches_pytorch_in_float64(seed, monkeypatch):
    cfg = random_configuration(seed)
    # A third of the cases plan bands of rows under a small L2 budget (the library's, see
    # CONVJIT_BAND_BYTES); NCHW inputs run staged NHWC kernels where the library plans them.
    if seed % 3 == 0:
        monkeypatch.setenv("CONVJIT_BAND_BYTES", "16384")
    gen = torch.Generator().manual_seed(seed)
    uniform = lambda *shape: torch.rand(*shape, generator=gen) * 2 - 1  # noqa: E731
    dims = (cfg["c"], cfg["h"], cfg["w"])
    x = uniform(*((cfg["batch"],) + dims if cfg["batch"] else dims))
    weight = uniform(cfg["oc"], cfg["c"] // cfg["groups"], *cfg["k"])
    bias = uniform(cfg["oc"]) if cfg["bias"] else None

    expected = expected_output(cfg, x, weight, bias)
    got = run_convjit(cfg, x, weight, bias)
    assert got.dtype == torch.float32
    assert got.shape == expected.shape, cfg
    error = (got.double() - expected).abs().max().item() if got.numel() else 0.0
    assert error <= tolerance(*cfg["k"], cfg["c"] // cfg["groups"]), cfg


MEMORY_FORMATS = {"contiguous": torch.contiguous_format, "channels_last": torch.channels_last}


@pytest.mark.parametrize("input_format", MEMORY_FORMATS)
@pytest.mark.parametrize("weight_format", MEMORY_FORMATS)
@pytest.mark.parametrize("sizes", [(2, 8, 9, 9, 4, 3), (1, 1, 8, 8, 1, 3), (1, 5, 1, 1, 3, 1)])
def test_output_memory_format_is_pytorchs(sizes, input_format, weight_format):
    n, c, h, w, oc, k = sizes
    x = torch.rand(n, c, h, w).contiguous(memory_format=MEMORY_FORMATS[input_format])
    weight = torch.rand(oc, c, k, k).contiguous(memory_format=MEMORY_FORMATS[weight_format])
    expected, got = F.conv2d(x, weight, padding=1), convjit.conv2d(x, weight, padding=1)
    assert got.stride() == expected.stride()
    torch.testing.assert_close(got, expected, rtol=0, atol=tolerance(k, k, c))


@pytest.mark.filterwarnings("ignore:Using padding=.same. with even kernel")
@pytest.mark.parametrize("k, dilation", [((2, 2), 1), ((4, 2), 1), ((2, 3), 3), ((1, 4), 2)])
def test_same_padding_puts_the_odd_pixel_after_like_pytorch(k, dilation):
    x, weight = torch.rand(1, 2, 7, 6), torch.rand(3, 2, *k)
    expected = F.conv2d(x.double(), weight.double(), padding="same", dilation=dilation)
    got = convjit.conv2d(x, weight, padding="same", dilation=dilation)
    assert got.shape == x.shape[:1] + (3,) + x.shape[2:]
    torch.testing.assert_close(got.double(), expected, rtol=0, atol=tolerance(*k, 2))


def test_channels_last_input_runs_an_nhwc_kernel():
    conv = convjit.torch.Conv2d(torch.nn.Conv2d(8, 8, 3).eval())
    conv(torch.rand(1, 8, 10, 10).to(memory_format=torch.channels_last))
    conv(torch.rand(1, 8, 10, 10))
    assert [k["layout"] for k in conv.kernels()] == ["nchw", "nhwc"]


def test_strided_views_are_convolved_like_contiguous_tensors():
    x = torch.rand(2, 3, 12, 20)[:, :, 1:, ::2]
    weight = torch.rand(4, 3, 3, 3)
    torch.testing.assert_close(convjit.conv2d(x, weight).double(), F.conv2d(x.double(), weight.double()),
                               rtol=0, atol=tolerance(3, 3, 3))


def test_an_empty_batch_gives_an_empty_output():
    got = convjit.conv2d(torch.rand(0, 3, 8, 8), torch.rand(4, 3, 3, 3))
    assert got.shape == (0, 4, 6, 6)


def test_nchw_layers_run_the_kernel_the_library_plans_for_their_shape():
    # The binding holds no speed policy: whether an NCHW layer computes NHWC between
    # transposes is the library's plan (and its tuning), the kernel a C++ caller gets too.
    conv = torch.nn.Conv2d(16, 32, 3, stride=2, padding=1).eval()
    fast = convjit.torch.Conv2d(conv)
    x = torch.rand(2, 16, 23, 19)
    with torch.no_grad():
        torch.testing.assert_close(fast(x), conv(x), rtol=0, atol=tolerance(3, 3, 16))
    info = fast.kernels()[0]
    assert info["layout"] == "nchw"
    assert info["name"] == convjit.Kernel(info["spec"]).name


# Large images run as bands of output rows of one kernel where the library plans them
# (WorkUnits::band_units); small budgets make every image here large.
@pytest.mark.filterwarnings("ignore:Using padding=.same. with even kernel")
@pytest.mark.parametrize("seed", range(CONFIGURATIONS, CONFIGURATIONS + 80))
def test_convolutions_split_into_bands_of_rows_match_pytorch(seed, monkeypatch):
    monkeypatch.setenv("CONVJIT_BAND_BYTES", ("8192", "65536")[seed % 2])
    cfg = random_configuration(seed)
    gen = torch.Generator().manual_seed(seed)
    x = torch.rand(2, cfg["c"], cfg["h"] + 24, cfg["w"] + 16, generator=gen) * 2 - 1
    weight = torch.rand(cfg["oc"], cfg["c"] // cfg["groups"], *cfg["k"], generator=gen) * 2 - 1
    bias = torch.rand(cfg["oc"], generator=gen) * 2 - 1 if cfg["bias"] else None
    cfg = dict(cfg, kind=("tensor_nchw", "tensor_channels_last")[seed // 2 % 2])
    expected, got = expected_output(cfg, x, weight, bias), run_convjit(cfg, x, weight, bias)
    assert got.shape == expected.shape
    assert (got.double() - expected).abs().max().item() <= tolerance(*cfg["k"], cfg["c"] // cfg["groups"]), cfg


def test_the_band_budget_is_the_librarys_and_is_checked(monkeypatch):
    monkeypatch.setenv("CONVJIT_BAND_BYTES", "65536")
    fast = convjit.torch.Conv2d(torch.nn.Conv2d(8, 64, 3, padding=1).eval())
    x = torch.rand(1, 8, 37, 29).to(memory_format=torch.channels_last)
    with torch.no_grad():
        torch.testing.assert_close(fast(x), F.conv2d(x, fast.weight, fast.bias, padding=1),
                                   rtol=0, atol=tolerance(3, 3, 8))
    info = fast.kernels()[0]
    assert info["name"] == convjit.Kernel(info["spec"]).name
    monkeypatch.setenv("CONVJIT_BAND_BYTES", "lots")
    with pytest.raises(convjit.Error) as info:
        convjit.torch.Conv2d(torch.nn.Conv2d(8, 8, 3).eval())(torch.rand(1, 8, 31, 33))
    assert info.value.field == "CONVJIT_BAND_BYTES"
