"""convjit.Kernel on torch tensors: compile once, pack once, run many; the GIL is released
while a kernel runs; threads per call; misuse raises errors naming the argument."""
import threading
import time

import pytest

torch = pytest.importorskip("torch")
F = torch.nn.functional

import convjit  # noqa: E402
from tolerance import tolerance  # noqa: E402


@pytest.mark.parametrize("layout", ["nchw", "nhwc"])
def test_kernel_runs_tensors_many_times_with_weights_packed_once(layout):
    k = convjit.Kernel.for_conv2d((2, 5, 9, 7), (6, 5, 3, 3), padding=1, stride=(1, 2),
                                  activation="relu", layout=layout)
    weight, bias = torch.rand(6, 5, 3, 3) - 0.5, torch.rand(6) - 0.5
    packed = k.pack_weights(weight, bias)
    fmt = torch.channels_last if layout == "nhwc" else torch.contiguous_format
    for seed in range(3):
        x = (torch.rand(2, 5, 9, 7, generator=torch.Generator().manual_seed(seed)) - 0.5).contiguous(memory_format=fmt)
        expected = F.relu(F.conv2d(x.double(), weight.double(), bias.double(), (1, 2), 1))
        y = k(x, packed, threads=1 + seed % 2)
        assert y.is_contiguous(memory_format=fmt)
        torch.testing.assert_close(y.double(), expected, rtol=0, atol=tolerance(3, 3, 5))


def test_kernel_writes_into_a_given_output():
    k = convjit.Kernel("n=1,c=3,h=8,w=8,oc=4,k=3,p=1,layout=nchw")
    weight = torch.rand(4, 3, 3, 3)
    packed = k.pack_weights(weight, torch.zeros(4))
    out = torch.empty(1, 4, 8, 8)
    x = torch.rand(1, 3, 8, 8)
    assert k.run(x, packed, out=out).data_ptr() == out.data_ptr()
    torch.testing.assert_close(out, F.conv2d(x, weight, padding=1), rtol=0, atol=tolerance(3, 3, 3))


def test_kernel_misuse_names_the_argument():
    k = convjit.Kernel("n=1,c=3,h=8,w=8,oc=4,k=3,bias=0,layout=nchw")
    packed = k.pack_weights(torch.rand(4, 3, 3, 3))
    other = convjit.Kernel("n=1,c=3,h=8,w=8,oc=4,k=5,bias=0,layout=nchw")
    x = torch.rand(1, 3, 8, 8)
    with pytest.raises(ValueError, match="^input: expected shape"):
        k(torch.rand(1, 3, 9, 8), packed)
    with pytest.raises(TypeError, match="^weights: expected convjit.PackedWeights"):
        k(x, "packed")
    with pytest.raises(convjit.Error) as info:
        other(x, packed)
    assert info.value.field == "weights"
    with pytest.raises(ValueError, match="^bias: given, but the kernel was compiled without one"):
        k.pack_weights(torch.rand(4, 3, 3, 3), torch.rand(4))
    with pytest.raises(ValueError, match="^weight: expected shape"):
        k.pack_weights(torch.rand(4, 3, 5, 5))
    with pytest.raises(ValueError, match="^out: expected shape"):
        k(x, packed, out=torch.empty(1, 4, 7, 7))
    with pytest.raises(ValueError, match="^out: must be NCHW-contiguous"):
        k(x, packed, out=torch.empty(1, 4, 6, 6).to(memory_format=torch.channels_last))
    with pytest.raises(ValueError, match="^threads"):
        k(x, packed, threads=-2)
    with pytest.raises(TypeError, match="^spec"):
        convjit.Kernel(42)


def test_the_gil_is_released_while_a_kernel_runs():
    # A kernel of some tens of milliseconds: if it held the GIL, this thread could not count.
    k = convjit.Kernel("n=1,c=64,h=56,w=56,oc=64,k=3,p=1,layout=nhwc")
    x = torch.rand(1, 64, 56, 56).to(memory_format=torch.channels_last)
    packed = k.pack_weights(torch.rand(64, 64, 3, 3), torch.rand(64))
    running, done = threading.Event(), threading.Event()

    def convolve():
        running.set()
        for _ in range(20):
            k(x, packed, threads=1)
        done.set()

    worker = threading.Thread(target=convolve)
    worker.start()
    running.wait()
    ticks, started = 0, time.perf_counter()
    while not done.is_set():
        ticks += 1
        time.sleep(0)
    elapsed = time.perf_counter() - started
    worker.join()
    # With the GIL held, this loop gets a turn only between calls (about 20 times).
    assert ticks > 200, f"{ticks} iterations in {elapsed * 1e3:.0f} ms"
