"""Bad arguments to convjit.conv2d raise TypeError or ValueError whose message starts with the
argument's name (convjit.Error, a ValueError, also carries it in `field`): never a crash, never
a silent answer."""
import numpy as np
import pytest

torch = pytest.importorskip("torch")

import convjit  # noqa: E402

X = torch.zeros(1, 4, 8, 8)
W = torch.zeros(6, 4, 3, 3)

BAD_CALLS = [
    # (exception, argument, call)
    (TypeError, "input", lambda: convjit.conv2d([[1.0]], W)),
    (TypeError, "input", lambda: convjit.conv2d(X.double(), W)),
    (TypeError, "input", lambda: convjit.conv2d(X.to(torch.int32), W)),
    (ValueError, "input", lambda: convjit.conv2d(torch.zeros(1, 1, 4, 8, 8), W)),
    (ValueError, "input", lambda: convjit.conv2d(torch.zeros(8, 8), W)),
    (ValueError, "input", lambda: convjit.conv2d(torch.zeros(1, 3, 8, 8), W)),
    (ValueError, "input", lambda: convjit.conv2d(torch.zeros(1, 4, 2, 8), W)),
    (ValueError, "input", lambda: convjit.conv2d(torch.zeros(1, 4, 8, 8, requires_grad=True), W)),
    (TypeError, "input", lambda: convjit.conv2d(X.to_sparse(), W)),
    (TypeError, "weight", lambda: convjit.conv2d(X, "weights")),
    (TypeError, "weight", lambda: convjit.conv2d(X, W.double())),
    (TypeError, "weight", lambda: convjit.conv2d(X, W.numpy())),
    (TypeError, "weight", lambda: convjit.conv2d(X.numpy(), W)),
    (ValueError, "weight", lambda: convjit.conv2d(X, torch.zeros(6, 4, 3))),
    (ValueError, "weight", lambda: convjit.conv2d(X, torch.zeros(6, 4, 0, 3))),
    (ValueError, "weight", lambda: convjit.conv2d(X, torch.zeros(6, 2, 3, 3), groups=4)),
    (TypeError, "bias", lambda: convjit.conv2d(X, W, [0.0] * 6)),
    (ValueError, "bias", lambda: convjit.conv2d(X, W, torch.zeros(5))),
    (TypeError, "bias", lambda: convjit.conv2d(X, W, torch.zeros(6, dtype=torch.float64))),
    (ValueError, "stride", lambda: convjit.conv2d(X, W, stride=0)),
    (ValueError, "stride", lambda: convjit.conv2d(X, W, stride=(1, 2, 3))),
    (TypeError, "stride", lambda: convjit.conv2d(X, W, stride=1.5)),
    (TypeError, "stride", lambda: convjit.conv2d(X, W, stride=True)),
    (ValueError, "padding", lambda: convjit.conv2d(X, W, padding=-1)),
    (ValueError, "padding", lambda: convjit.conv2d(X, W, padding="full")),
    (ValueError, "padding", lambda: convjit.conv2d(X, W, stride=2, padding="same")),
    (TypeError, "padding", lambda: convjit.conv2d(X, W, padding=None)),
    (ValueError, "dilation", lambda: convjit.conv2d(X, W, dilation=(1, 0))),
    (ValueError, "groups", lambda: convjit.conv2d(X, W, groups=0)),
    (TypeError, "groups", lambda: convjit.conv2d(X, W, groups="2")),
    (ValueError, "activation", lambda: convjit.conv2d(X, W, activation="gelu")),
    (ValueError, "activation", lambda: convjit.conv2d(X, W, activation=("clamp", 1, -1))),
    (TypeError, "activation", lambda: convjit.conv2d(X, W, activation=("clamp", "a", 1))),
    (ValueError, "activation", lambda: convjit.conv2d(X, W, activation=("clamp", 0, float("inf")))),
    (ValueError, "threads", lambda: convjit.conv2d(X, W, threads=-1)),
    (ValueError, "threads", lambda: convjit.conv2d(X, W, threads=5000)),
    (ValueError, "layout", lambda: convjit.conv2d(X, W, layout="nhwc")),
    (ValueError, "layout", lambda: convjit.conv2d(X.numpy(), W.numpy(), layout="hwcn")),
    (ValueError, "input", lambda: convjit.conv2d(np.zeros((1, 8, 8, 3), np.float32), W.numpy(), layout="nhwc")),
]


@pytest.mark.parametrize("exception, argument, call", BAD_CALLS,
                         ids=[f"{i}-{arg}" for i, (_, arg, _) in enumerate(BAD_CALLS)])
def test_bad_argument_raises_an_error_naming_it(exception, argument, call):
    with pytest.raises(exception) as info:
        call()
    message = str(info.value)
    assert message.startswith(f"{argument}:") or message.startswith(f"convjit: {argument}:"), message
    if isinstance(info.value, convjit.Error):
        assert info.value.field == argument


def test_convjit_errors_are_value_errors_with_a_field():
    with pytest.raises(ValueError) as info:
        convjit.conv2d(torch.zeros(1, 3, 8, 8), W)
    assert isinstance(info.value, convjit.Error) and info.value.field == "input" and info.value.reason


def test_an_input_that_needs_no_grad_is_fine_under_no_grad():
    x = torch.zeros(1, 4, 8, 8, requires_grad=True)
    with torch.no_grad():
        assert convjit.conv2d(x, W).shape == (1, 6, 6, 6)
