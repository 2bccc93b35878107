"""The activations beyond relu/clamp: 'leaky_relu' / ('leaky_relu', slope), 'hardswish', 'silu' and
'sigmoid' through convjit.conv2d (tensors and NumPy arrays) against PyTorch's own functions, and
convjit.torch.convert fusing nn.LeakyReLU / Hardswish / SiLU / Sigmoid (in place or not) after a
convolution and its BatchNorm, down to torchvision's EfficientNet-B0 and MobileNetV3-small.

The bound for one output: the convolution's (tolerance.py, the rule of core/tolerance.cpp)
times the activation's Lipschitz constant, plus 1e-6 relative to the largest output + 1 (the
error of the kernels' exp-based silu/sigmoid, core/tolerance.cpp's kSmoothActivationRelativeError,
which also covers hardswish's 4 roundings and leaky_relu's one)."""
import math

import numpy as np
import pytest

torch = pytest.importorskip("torch")
F = torch.nn.functional
nn = torch.nn

import convjit  # noqa: E402
import convjit.torch  # noqa: E402
from tolerance import tolerance  # noqa: E402
from torch_support import randomised_batchnorm, relative_error  # noqa: E402

torch.set_num_threads(1)

# (convjit's activation argument, PyTorch's function, Lipschitz constant)
ACTIVATIONS = {
    "leaky_relu": ("leaky_relu", lambda y: F.leaky_relu(y, 0.01), 1.0),
    "leaky_relu_0.2": (("leaky_relu", 0.2), lambda y: F.leaky_relu(y, 0.2), 1.0),
    "leaky_relu_-0.5": (("leaky_relu", -0.5), lambda y: F.leaky_relu(y, -0.5), 1.0),
    "leaky_relu_1.5": (("leaky_relu", 1.5), lambda y: F.leaky_relu(y, 1.5), 1.5),
    "hardswish": ("hardswish", F.hardswish, 1.5),
    "silu": ("silu", F.silu, 1.1),
    "sigmoid": ("sigmoid", torch.sigmoid, 0.25),
}
SMOOTH_RELATIVE_ERROR = 1e-6

# (weight shape (oc, c/groups, kh, kw), groups, padding, stride): dense with a channel tail,
# depthwise, pointwise, strided
LAYERS = [((19, 13, 3, 3), 1, 1, 1), ((16, 1, 3, 3), 16, 1, 1), ((24, 16, 1, 1), 1, 0, 1),
          ((5, 3, 5, 5), 1, 2, 2)]


def bound(weight_shape, expected, lipschitz):
    oc, in_per_group, kh, kw = weight_shape
    largest = float(expected.abs().max())
    return lipschitz * tolerance(kh, kw, in_per_group) + SMOOTH_RELATIVE_ERROR * (largest + 1.0)


@pytest.mark.parametrize("layer", LAYERS, ids=lambda l: "x".join(map(str, l[0])) + f"_g{l[1]}")
@pytest.mark.parametrize("name", ACTIVATIONS)
def test_conv2d_activation_matches_torch(name, layer):
    activation, torch_function, lipschitz = ACTIVATIONS[name]
    weight_shape, groups, padding, stride = layer
    gen = torch.Generator().manual_seed(hash((name, weight_shape)) & 0xFFFF)
    c = weight_shape[1] * groups
    # Inputs up to ±4 so the outputs reach every piece of each function (hardswish's ±3,
    # the sigmoid's tails).
    x = (torch.rand(2, c, 11, 12, generator=gen) * 2 - 1) * 4
    weight = torch.rand(weight_shape, generator=gen) * 2 - 1
    bias = torch.rand(weight_shape[0], generator=gen) * 2 - 1
    expected = torch_function(F.conv2d(x.double(), weight.double(), bias.double(), stride, padding,
                                       1, groups))
    limit = bound(weight_shape, expected, lipschitz) * 4  # inputs in [-4, 4], not [-1, 1]

    got = convjit.conv2d(x, weight, bias, stride, padding, 1, groups, activation=activation)
    assert got.shape == expected.shape
    assert float((got.double() - expected).abs().max()) <= limit

    channels_last = x.contiguous(memory_format=torch.channels_last)
    got = convjit.conv2d(channels_last, weight, bias, stride, padding, 1, groups, activation=activation)
    assert float((got.double() - expected).abs().max()) <= limit

    got = convjit.conv2d(x.numpy(), weight.numpy(), bias.numpy(), stride, padding, 1, groups,
                         activation=activation)
    assert float(np.abs(got.astype(np.float64) - expected.numpy()).max()) <= limit


def test_the_kernel_names_its_activation():
    shape = (1, 3, 8, 8), (4, 3, 3, 3)
    for activation, printed in [("leaky_relu", "leaky_relu:0.01"), (("leaky_relu", 0.25), "leaky_relu:0.25"),
                                ("hardswish", "hardswish"), ("silu", "silu"), ("sigmoid", "sigmoid")]:
        kernel = convjit.Kernel.for_conv2d(*shape, activation=activation)
        assert kernel.activation == printed and f"act={printed}" in kernel.spec
    assert convjit.Kernel("c=3,h=8,w=8,oc=4,k=3,act=leaky_relu:-0.5").activation == "leaky_relu:-0.5"


@pytest.mark.parametrize("activation, error", [
    (("leaky_relu", float("nan")), ValueError),
    (("leaky_relu", float("inf")), ValueError),
    (("leaky_relu", "a"), TypeError),
    (("leaky_relu", True), TypeError),
    (("leaky_relu",), ValueError),
    (("leaky_relu", 0.1, 0.2), ValueError),
    ("silu:1", ValueError),
    (("silu", 1.0), ValueError),
    ("hard_swish", ValueError),
])
def test_malformed_activations_are_refused_naming_the_argument(activation, error):
    x, w = np.zeros((1, 2, 5, 5), np.float32), np.zeros((3, 2, 3, 3), np.float32)
    with pytest.raises(error, match="activation"):
        convjit.conv2d(x, w, activation=activation)


# ---------------------------------------------------------------------- convert()

MODULES = [
    (lambda: nn.LeakyReLU(), ("leaky_relu", 0.01)),
    (lambda: nn.LeakyReLU(0.2, inplace=True), ("leaky_relu", 0.2)),
    (lambda: nn.LeakyReLU(-0.5), ("leaky_relu", -0.5)),
    (lambda: nn.Hardswish(), "hardswish"),
    (lambda: nn.Hardswish(inplace=True), "hardswish"),
    (lambda: nn.SiLU(), "silu"),
    (lambda: nn.SiLU(inplace=True), "silu"),
    (lambda: nn.Sigmoid(), "sigmoid"),
]


@pytest.mark.parametrize("make, activation", MODULES,
                         ids=["leaky", "leaky_0.2_inplace", "leaky_-0.5", "hardswish", "hardswish_inplace",
                              "silu", "silu_inplace", "sigmoid"])
@pytest.mark.parametrize("batchnorm", [False, True], ids=["conv", "conv_bn"])
def test_convert_fuses_the_activation_module(make, activation, batchnorm):
    torch.manual_seed(1)
    layers = [nn.Conv2d(6, 10, 3, padding=1, bias=not batchnorm)]
    if batchnorm:
        layers.append(nn.BatchNorm2d(10))
    layers += [make(), nn.Conv2d(10, 4, 1)]
    model = randomised_batchnorm(nn.Sequential(*layers)).eval()
    x = torch.randn(1, 6, 9, 9) * 2
    with torch.no_grad():
        expected = model(x.clone())
    converted = convjit.torch.convert(model, inplace=False)
    first = converted[0]
    assert isinstance(first, convjit.torch.Conv2d)
    assert first.activation == activation and first.folded_batchnorm == batchnorm
    assert all(isinstance(m, nn.Identity) for m in converted[1:len(layers) - 1])
    with torch.no_grad():
        got = converted(x.clone())
    assert relative_error(got, expected) <= 1e-4


def test_an_activation_subclass_is_not_fused():
    class Shifted(nn.SiLU):
        def forward(self, input):
            return super().forward(input) + 1

    model = nn.Sequential(nn.Conv2d(3, 4, 3), Shifted()).eval()
    converted = convjit.torch.convert(model, inplace=False)
    assert converted[0].activation is None and isinstance(converted[1], Shifted)


# -------------------------------------------------------------------- torchvision

torchvision = pytest.importorskip("torchvision")

# The conv → [bn] → activation chains torchvision builds (Conv2dNormActivation, and the
# squeeze-excitation's fc1 → activation, fc2 → scale activation), as counted on the
# architectures: EfficientNet-B0 49 SiLU + 16 Sigmoid; MobileNetV3-small 18 Hardswish (its 19th
# follows the classifier's Linear) + 14 ReLU (its 9 Hardsigmoid have no kernel activation).
EXPECTED_FUSIONS = {
    "efficientnet_b0": {"silu": 49, "sigmoid": 16},
    "mobilenet_v3_small": {"hardswish": 18, "relu": 14},
}


@pytest.fixture(scope="module", params=sorted(EXPECTED_FUSIONS))
def network(request):
    torch.manual_seed(0)
    model = randomised_batchnorm(getattr(torchvision.models, request.param)(weights=None)).eval()
    return request.param, model, convjit.torch.convert(model, inplace=False)


def fused_counts(model):
    counts = {}
    for m in model.modules():
        if isinstance(m, convjit.torch.Conv2d) and m.activation is not None:
            kind = m.activation if isinstance(m.activation, str) else m.activation[0]
            counts[kind] = counts.get(kind, 0) + 1
    return counts


def test_network_activations_are_fused(network):
    name, model, converted = network
    assert fused_counts(converted) == EXPECTED_FUSIONS[name]
    left = [type(m).__name__ for m in converted.modules() if isinstance(m, (nn.SiLU, nn.Sigmoid, nn.Hardswish))]
    # Only the classifier's Hardswish (after a Linear) stays a module.
    assert left == ([] if name == "efficientnet_b0" else ["Hardswish"])
    assert not any(isinstance(m, (nn.Conv2d, nn.BatchNorm2d)) for m in converted.modules())


def test_converted_network_matches_pytorch(network):
    name, model, converted = network
    x = torch.randn(1, 3, 64, 64, generator=torch.Generator().manual_seed(3))
    with torch.no_grad():
        expected, got = model(x), converted(x)
    assert got.shape == expected.shape
    assert relative_error(got, expected) <= 1e-4
