"""convjit.Kernel: one compiled convolution for one exact input shape. Compile once, pack the
weights once, run many times; the GIL is released while the kernel runs."""
from . import _arguments, _native
from ._tensors import is_tensor, torch_native


class Kernel:
    """A kernel for one exact shape, from Jit's per-shape cache.

        k = convjit.Kernel("n=1,c=64,h=56,w=56,oc=64,k=3,p=1,layout=nchw")
        k = convjit.Kernel.for_conv2d((1, 64, 56, 56), (64, 64, 3, 3), padding=1)
        packed = k.pack_weights(weight, bias)      # OIHW weights, whatever the layout
        y = k.run(x, packed)                       # or k(x, packed, out=y, threads=2)

    NumPy arrays are in the kernel's layout: (n, c, h, w) for nchw, (n, h, w, c) for nhwc.
    torch tensors always have PyTorch's (n, c, h, w) sizes: NCHW-contiguous for nchw kernels,
    channels_last for nhwc kernels (other strides are copied first).
    """

    __slots__ = ("_native",)

    def __init__(self, spec):
        """Compiles `spec`, a convjit spec string (README, "Spec strings")."""
        if not isinstance(spec, str):
            raise TypeError(f"spec: expected a spec string, got {type(spec).__name__}")
        self._native = _native.Kernel(spec)

    @classmethod
    def for_conv2d(cls, input_shape, weight_shape, *, bias=True, stride=1, padding=0, dilation=1,
                   groups=1, activation=None, layout="nchw"):
        """The kernel conv2d(input, weight, ...) runs for an input of `input_shape` (N, C, H, W)
        and a weight of `weight_shape` (out_channels, in_channels / groups, kh, kw)."""
        dims = tuple(input_shape) if isinstance(input_shape, (tuple, list)) else None
        if dims is None or len(dims) != 4:
            raise ValueError(f"input_shape: expected (N, C, H, W), got {input_shape!r}")
        n, c, h, w = (_arguments.positive_int("input_shape", d) for d in dims)
        weight_dims = _arguments.weight_shape(_Shaped(weight_shape))
        params = _arguments.layer_params(weight_dims, bias, stride, padding, dilation, groups, activation)
        if c != params.in_channels:
            raise ValueError(f"input_shape: {c} channels, but weight_shape {weight_dims} with "
                             f"groups={groups} takes {params.in_channels}")
        kernel = cls.__new__(cls)
        kernel._native = _native.Kernel.for_layer(params, n, h, w, layout)
        return kernel

    # ------------------------------------------------------------------ what it is
    spec = property(lambda self: self._native.spec, doc="canonical spec string of the shape")
    name = property(lambda self: self._native.name, doc="what the kernel is, e.g. conv_k3x3_...")
    backend = property(lambda self: self._native.backend, doc="xbyak, llvm, generic or reference")
    layout = property(lambda self: self._native.layout, doc="'nchw' or 'nhwc'")
    input_shape = property(lambda self: self._native.input_shape, doc="in the kernel's layout order")
    output_shape = property(lambda self: self._native.output_shape, doc="in the kernel's layout order")
    weight_shape = property(lambda self: self._native.weight_shape, doc="OIHW, as PyTorch's")
    has_bias = property(lambda self: self._native.bias)
    activation = property(lambda self: self._native.activation)
    flops = property(lambda self: self._native.flops, doc="2 x multiply-adds over the batch")
    generation_us = property(lambda self: self._native.generation_us)

    def describe(self):
        """The plan and backend, as `convjit plan` prints them."""
        return self._native.describe()

    def __repr__(self):
        return repr(self._native)

    # ------------------------------------------------------------------ using it
    def pack_weights(self, weight, bias=None):
        """Reorders OIHW `weight` (and `bias`) once for this kernel: a convjit.PackedWeights."""
        if is_tensor(weight):
            return torch_native().pack_tensors(self._native, weight, bias)
        return self._native.pack_weights(weight, bias)

    def run(self, input, weights, *, out=None, threads=None):
        """Convolves `input` with packed `weights` into `out` (allocated when None); returns
        the output. threads: default torch.get_num_threads() for tensors, else OMP_NUM_THREADS."""
        if not isinstance(weights, _native.PackedWeights):
            raise TypeError("weights: expected convjit.PackedWeights (from Kernel.pack_weights), "
                            f"got {type(weights).__name__}")
        if is_tensor(input):
            return torch_native().run_tensors(self._native, input, weights, out,
                                              _arguments.threads_argument(threads, -1))
        return self._native.run(input, weights, out, _arguments.threads_argument(threads, 0))

    __call__ = run


class _Shaped:
    """Lets weight_shape() check a plain shape tuple like an array's."""

    def __init__(self, shape):
        if not isinstance(shape, (tuple, list)):
            raise ValueError(f"weight_shape: expected (out_channels, in_channels / groups, kh, kw), got {shape!r}")
        self.shape = shape
