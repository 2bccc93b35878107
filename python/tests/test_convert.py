"""convjit.torch.convert and convjit.torch.Conv2d: a drop-in for nn.Conv2d at inference."""
import copy
import pickle
import warnings

import pytest

torch = pytest.importorskip("torch")
nn = torch.nn

import convjit.torch  # noqa: E402
from convjit.torch import ConversionError, Conv2d, convert  # noqa: E402
from torch_support import randomised_batchnorm as randomised, relative_error  # noqa: E402


def compare(model, x, rtol=1e-4):
    with torch.no_grad():
        expected = model(x)
        converted = convert(model, inplace=False)
        got = converted(x)
    assert got.shape == expected.shape
    assert got.stride() == expected.stride()
    assert relative_error(got, expected) <= rtol
    return converted


class Residual(nn.Module):
    """The conv output feeds the ReLU and the sum: folding the ReLU in would be wrong."""

    def __init__(self):
        super().__init__()
        self.conv = nn.Conv2d(4, 4, 3, padding=1)
        self.relu = nn.ReLU()

    def forward(self, x):
        y = self.conv(x)
        return self.relu(y) + y


class SharedReLU(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv1, self.conv2 = nn.Conv2d(3, 4, 3, padding=1), nn.Conv2d(4, 4, 1)
        self.bn1 = nn.BatchNorm2d(4)
        self.relu = nn.ReLU()

    def forward(self, x):
        return self.relu(self.conv2(self.relu(self.bn1(self.conv1(x)))))


class DataDependent(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv, self.relu = nn.Conv2d(3, 3, 3), nn.ReLU()

    def forward(self, x):
        if x.sum() > 0:  # not traceable: convert() still converts, without fusing
            return self.relu(self.conv(x))
        return self.conv(x)


class ReadsWeights(nn.Module):
    """forward() reads the BatchNorm's weight itself: folding it away would change that."""

    def __init__(self):
        super().__init__()
        self.conv, self.bn = nn.Conv2d(3, 4, 3), nn.BatchNorm2d(4)

    def forward(self, x):
        return self.bn(self.conv(x)) * self.bn.weight.view(1, -1, 1, 1)


def test_conv_relu_in_a_sequential_becomes_one_kernel():
    model = nn.Sequential(nn.Conv2d(3, 8, 3), nn.ReLU(), nn.Conv2d(8, 8, 3), nn.ReLU6()).eval()
    converted = compare(model, torch.randn(2, 3, 12, 12))
    assert [type(m) for m in converted] == [Conv2d, nn.Identity, Conv2d, nn.Identity]
    assert converted[0].activation == "relu" and converted[2].activation == ("clamp", 0.0, 6.0)


def test_batchnorm_after_a_conv_is_folded_into_its_weights():
    model = randomised(nn.Sequential(nn.Conv2d(3, 8, 3, bias=False), nn.BatchNorm2d(8), nn.ReLU()))
    converted = compare(model, torch.randn(1, 3, 10, 10))
    assert converted[0].folded_batchnorm and converted[0].activation == "relu"
    assert isinstance(converted[1], nn.Identity) and isinstance(converted[2], nn.Identity)


def test_a_conv_output_used_twice_keeps_its_relu():
    converted = compare(Residual().eval(), torch.randn(1, 4, 8, 8))
    assert converted.conv.activation is None and isinstance(converted.relu, nn.ReLU)


def test_a_relu_module_called_twice_is_not_folded_away():
    converted = compare(randomised(SharedReLU()), torch.randn(1, 3, 8, 8))
    assert converted.conv1.folded_batchnorm and isinstance(converted.bn1, nn.Identity)
    assert converted.conv1.activation is None and isinstance(converted.relu, nn.ReLU)


def test_modules_whose_parameters_forward_reads_are_not_folded():
    converted = compare(randomised(ReadsWeights()), torch.randn(1, 3, 8, 8))
    assert isinstance(converted.bn, nn.BatchNorm2d) and not converted.conv.folded_batchnorm


def test_untraceable_modules_are_converted_without_fusion():
    converted = compare(DataDependent().eval(), torch.rand(1, 3, 8, 8))
    assert isinstance(converted.conv, Conv2d) and converted.conv.activation is None


def test_any_input_size_batch_and_memory_format():
    conv = nn.Conv2d(3, 5, 3, stride=2, padding=1).eval()
    fast = Conv2d(conv)
    with torch.no_grad():
        for shape in [(1, 3, 8, 8), (4, 3, 17, 11), (3, 9, 9), (2, 3, 8, 8)]:
            for fmt in (torch.contiguous_format, torch.channels_last):
                x = torch.randn(shape)
                if x.dim() == 4:
                    x = x.contiguous(memory_format=fmt)
                expected, got = conv(x), fast(x)
                assert got.shape == expected.shape and got.stride() == expected.stride()
                assert relative_error(got, expected) <= 1e-5
    assert len(fast.kernels()) == 7


def test_training_mode_is_refused_and_nothing_changes():
    model = nn.Sequential(nn.Conv2d(3, 3, 3), nn.ReLU())
    with pytest.raises(ConversionError, match="training mode"):
        convert(model)
    assert type(model[0]) is nn.Conv2d


def test_unsupported_padding_mode_is_refused_and_nothing_changes():
    model = nn.Sequential(nn.Conv2d(3, 3, 3), nn.Conv2d(3, 3, 3, padding=1, padding_mode="reflect")).eval()
    with pytest.raises(ConversionError, match="padding_mode='reflect'") as info:
        convert(model)
    assert info.value.problems[0][0] == "1"
    assert [type(m) for m in model] == [nn.Conv2d, nn.Conv2d]


def test_skip_unsupported_converts_the_rest_and_warns():
    model = nn.Sequential(nn.Conv2d(3, 3, 3), nn.Conv2d(3, 3, 3, padding=1, padding_mode="circular")).eval()
    with pytest.warns(UserWarning, match="left 1 unconverted"):
        convert(model, skip_unsupported=True)
    assert [type(m) for m in model] == [Conv2d, nn.Conv2d]


def test_float64_models_and_other_modules_are_refused():
    with pytest.raises(ConversionError, match="float64"):
        convert(nn.Conv2d(3, 3, 3).double().eval())
    with pytest.raises(TypeError, match="^module:"):
        convert("resnet")
    with pytest.raises(ConversionError, match="expected an nn.Conv2d"):
        Conv2d(nn.Linear(3, 3))


def test_input_requiring_grad_is_refused_outside_no_grad():
    fast = Conv2d(nn.Conv2d(3, 3, 3).eval())
    with pytest.raises(ValueError, match="^input: requires grad"):
        fast(torch.randn(1, 3, 8, 8, requires_grad=True))
    assert fast(torch.randn(1, 3, 8, 8)).shape == (1, 3, 6, 6)


def test_bad_inputs_name_the_argument():
    fast = Conv2d(nn.Conv2d(3, 3, 3).eval())
    with pytest.raises(TypeError, match="^input: expected float32"):
        fast(torch.randn(1, 3, 8, 8, dtype=torch.float64))
    with pytest.raises(TypeError, match="^input: expected a torch.Tensor"):
        fast([1, 2, 3])
    with pytest.raises(ValueError, match="input: has 4 channels"):
        fast(torch.randn(1, 4, 8, 8))


def test_forward_hooks_still_run():
    conv = nn.Conv2d(3, 3, 3).eval()
    seen = []
    conv.register_forward_hook(lambda module, args, out: seen.append(out.shape))
    model = convert(nn.Sequential(conv, nn.ReLU()).eval())
    model(torch.randn(1, 3, 8, 8))
    assert seen == [(1, 3, 6, 6)] and isinstance(model[1], nn.ReLU)


def test_weight_updates_are_picked_up():
    conv = nn.Conv2d(3, 4, 3).eval()
    model = convert(nn.Sequential(conv).eval(), inplace=False)
    x = torch.randn(1, 3, 8, 8)
    fresh = nn.Conv2d(3, 4, 3).eval()
    with torch.no_grad():
        model(x)
        model.load_state_dict({"0.weight": fresh.weight, "0.bias": fresh.bias})
        assert relative_error(model(x), fresh(x)) <= 1e-5
        model[0].weight = nn.Parameter(conv.weight.clone())
        model[0].bias = nn.Parameter(conv.bias.clone())
        assert relative_error(model(x), conv(x)) <= 1e-5
        model[0].weight.data.mul_(2)  # through .data: invisible until refresh()
        model[0].refresh()
        assert relative_error(model(x), 2 * (conv(x) - conv.bias.view(1, -1, 1, 1)) + conv.bias.view(1, -1, 1, 1)) <= 1e-5


def test_converted_models_survive_deepcopy_and_pickle():
    model = convert(randomised(nn.Sequential(nn.Conv2d(3, 4, 3), nn.BatchNorm2d(4), nn.ReLU())))
    x = torch.randn(1, 3, 8, 8)
    for clone in (copy.deepcopy(model), pickle.loads(pickle.dumps(model))):
        torch.testing.assert_close(clone(x), model(x))


def test_shared_convolutions_stay_shared():
    conv = nn.Conv2d(3, 3, 3, padding=1)
    model = convert(nn.Sequential(conv, nn.ReLU(), conv).eval())
    assert model[0] is model[2] and model[0].activation is None


def test_inplace_false_leaves_the_original():
    model = nn.Sequential(nn.Conv2d(3, 3, 3)).eval()
    converted = convert(model, inplace=False)
    assert type(model[0]) is nn.Conv2d and type(converted[0]) is Conv2d


def test_a_bare_conv_is_returned_converted():
    conv = nn.Conv2d(2, 2, 2).eval()
    assert isinstance(convert(conv), Conv2d)


def test_threads_are_per_module():
    # One kernel per input size, whatever the thread count: the same bits for 1 and 2 threads.
    fast = Conv2d(nn.Conv2d(8, 8, 3).eval(), threads=2)
    x = torch.randn(2, 8, 32, 32)
    expected = fast(x)
    fast.threads = 1
    torch.testing.assert_close(fast(x), expected, rtol=0, atol=0)


def test_converted_small_conv_call_overhead_is_measured(capsys):
    # Not a timing assertion (the machine is shared): the number is printed for the record.
    import timeit
    conv = nn.Conv2d(1, 1, 3).eval()
    fast, x = Conv2d(conv), torch.randn(1, 1, 8, 8)
    with warnings.catch_warnings():
        best = min(timeit.repeat(lambda: fast(x), number=2000, repeat=5)) / 2000
    with capsys.disabled():
        print(f"\n  converted Conv2d(1, 1, 3) on 1x1x8x8: {best * 1e6:.2f} us per call")


def test_global_hooks_and_keyword_calls_take_nn_modules_path():
    fast = Conv2d(nn.Conv2d(3, 3, 3).eval())
    x, seen = torch.randn(1, 3, 8, 8), []
    handle = torch.nn.modules.module.register_module_forward_pre_hook(lambda m, args: seen.append(type(m)))
    try:
        fast(x)
    finally:
        handle.remove()
    fast.register_forward_pre_hook(lambda m, args: seen.append("own"))
    fast(x)
    assert seen == [Conv2d, "own"]
    assert fast(input=x).shape == (1, 3, 6, 6) and seen == [Conv2d, "own", "own"]


def test_models_built_under_inference_mode_convert_and_run():
    with torch.inference_mode():
        conv = nn.Conv2d(3, 4, 3).eval()
        fast = convert(conv, inplace=False)
        x = torch.randn(1, 3, 8, 8)
        assert relative_error(fast(x), conv(x)) <= 1e-5
