"""convjit for PyTorch models at inference.

    model = torchvision.models.resnet50().eval()
    convjit.torch.convert(model)        # in place; returns the model
    with torch.no_grad():
        y = model(x)                    # every nn.Conv2d now runs a cached convjit kernel

convert() replaces each nn.Conv2d by convjit.torch.Conv2d, which packs its weights once per
input size and calls the kernel through a C++ entry point. In a model quantized with
PyTorch's eager-mode flow it replaces each torch.ao.nn.quantized.Conv2d and
torch.ao.nn.intrinsic.quantized.ConvReLU2d by convjit.torch.QuantizedConv2d, which runs
convjit's 8-bit kernels on the quint8 tensors. Where the data flow makes it safe
(checked by tracing each parent module with torch.fx), a BatchNorm2d directly after a
convolution is folded into its weights and a following ReLU / ReLU6 / Hardtanh / LeakyReLU /
Hardswish / SiLU / Sigmoid runs inside the kernel; the modules folded away become nn.Identity.
"""
import copy
import warnings
from collections import Counter

import torch
import torch.fx
from torch import nn

from . import _arguments
from ._tensors import torch_native

__all__ = ["Conv2d", "QuantizedConv2d", "ConversionError", "convert"]

_CONV_ATTRIBUTES = ("in_channels", "out_channels", "kernel_size", "stride", "padding", "dilation",
                    "groups", "padding_mode")
# Changing one of these after construction recompiles.
_REBIND_ON = frozenset(("weight", "bias", "stride", "padding", "dilation", "groups", "activation",
                        "threads"))


class ConversionError(ValueError):
    """convert() or Conv2d() refused. `problems` lists (module path, reason); nothing changed."""

    def __init__(self, problems):
        self.problems = list(problems)
        lines = "\n".join(f"  {path or '(the module itself)'}: {reason}" for path, reason in self.problems)
        super().__init__(f"module: cannot convert to convjit (nothing was changed):\n{lines}")


def unsupported_reason(conv):
    """Why convjit cannot stand in for this nn.Conv2d, or None."""
    if conv.training:
        return "is in training mode (convjit computes no gradients): call model.eval() first"
    if conv.padding_mode != "zeros":
        return f"padding_mode={conv.padding_mode!r}: convjit pads with zeros only"
    if type(conv).forward is not nn.Conv2d.forward or type(conv)._conv_forward is not nn.Conv2d._conv_forward:
        return f"{type(conv).__name__} overrides nn.Conv2d's forward"
    for name in ("weight", "bias"):
        tensor = getattr(conv, name)
        if tensor is None and name == "bias":
            continue
        if not isinstance(tensor, torch.Tensor):
            return f"{name} is not a tensor"
        if tensor.dtype != torch.float32:
            return f"{name} is {tensor.dtype}: convjit kernels are float32"
        if tensor.device.type != "cpu" or tensor.layout != torch.strided:
            return f"{name} is on {tensor.device} ({tensor.layout}): convjit runs dense CPU tensors"
    return None


_PLAIN_ACTIVATIONS = {nn.ReLU: "relu", nn.Hardswish: "hardswish", nn.SiLU: "silu", nn.Sigmoid: "sigmoid"}


def _activation_of(module):
    """The kernel activation a module computes, or None (in-place or not: the module is
    folded away, so where it would have written makes no difference)."""
    kind = _PLAIN_ACTIVATIONS.get(type(module))
    if kind is not None:
        return kind
    if type(module) in (nn.ReLU6, nn.Hardtanh):
        return ("clamp", float(module.min_val), float(module.max_val))
    if type(module) is nn.LeakyReLU:
        return ("leaky_relu", float(module.negative_slope))
    return None


def _has_hooks(module):
    return bool(module._forward_pre_hooks or module._forward_hooks or module._backward_hooks)


def _folded(conv, batchnorm):
    """conv's weight and bias with an eval-mode BatchNorm2d after it folded in (in float64)."""
    scale = (batchnorm.running_var.detach().double() + batchnorm.eps).rsqrt()
    if batchnorm.weight is not None:
        scale = scale * batchnorm.weight.detach().double()
    shift = -batchnorm.running_mean.detach().double() * scale
    if conv.bias is not None:
        shift = shift + conv.bias.detach().double() * scale
    if batchnorm.bias is not None:
        shift = shift + batchnorm.bias.detach().double()
    weight = conv.weight.detach().double() * scale.view(-1, 1, 1, 1)
    # empty_like keeps the weight's memory format, which decides the output's (as in PyTorch).
    return torch.empty_like(conv.weight).copy_(weight), shift.float()


def _foldable(batchnorm, conv):
    return (type(batchnorm) is nn.BatchNorm2d and not batchnorm.training
            and batchnorm.num_features == conv.out_channels
            and batchnorm.running_mean is not None and batchnorm.running_var is not None
            and all(t is None or (t.dtype == torch.float32 and t.device.type == "cpu")
                    for t in (batchnorm.weight, batchnorm.bias, batchnorm.running_mean)))


class Conv2d(nn.Module):
    """nn.Conv2d at inference on convjit kernels.

    Built from an eval-mode nn.Conv2d (padding_mode='zeros', float32, CPU). `batchnorm`: an
    eval-mode BatchNorm2d that followed it, folded into the weights; `activation`: None, 'relu',
    ('clamp', lo, hi), ('leaky_relu', negative_slope), 'hardswish', 'silu' or 'sigmoid' (as
    convjit.conv2d takes them), computed by the kernel. `threads`: per call; None follows
    torch.get_num_threads().

    It takes any input size and batch (a kernel per size, compiled on first use and cached),
    NCHW-contiguous or channels_last float32 CPU tensors, and returns the memory format PyTorch
    would. It computes no gradients: an input that requires grad with grad mode on is refused.
    In-place changes to `weight` / `bias` (load_state_dict, copy_ under no_grad) and assigning
    new ones are picked up; after writing through `.data`, call refresh().
    """

    def __init__(self, conv, *, activation=None, batchnorm=None, threads=None):
        super().__init__()
        reason = unsupported_reason(conv) if isinstance(conv, nn.Conv2d) else \
            f"expected an nn.Conv2d, got {type(conv).__name__}"
        if reason is None and batchnorm is not None and not _foldable(batchnorm, conv):
            reason = "batchnorm: expected an eval-mode BatchNorm2d with running statistics " \
                     "over the convolution's output channels"
        if reason:
            raise ConversionError([("", reason)])
        for name in _CONV_ATTRIBUTES:
            setattr(self, name, getattr(conv, name))
        self.activation = activation
        self.threads = threads
        self.folded_batchnorm = batchnorm is not None
        if batchnorm is None:
            self.weight = conv.weight
            self.register_parameter("bias", conv.bias)
        else:
            weight, bias = _folded(conv, batchnorm)
            self.weight = nn.Parameter(weight, requires_grad=False)
            self.bias = nn.Parameter(bias, requires_grad=False)
        self._bind()

    def _bind(self):
        params = _arguments.layer_params(
            tuple(self.weight.shape), self.bias is not None, self.stride, self.padding,
            self.dilation, self.groups, self.activation)
        layer = torch_native().TorchLayer(params, self.weight, self.bias,
                                          _arguments.threads_argument(self.threads, -1))
        # Plain attributes, not submodules or parameters: set past nn.Module.__setattr__.
        object.__setattr__(self, "_layer", layer)
        object.__setattr__(self, "_conv2d", layer.conv2d)

    def __setattr__(self, name, value):
        super().__setattr__(name, value)
        if name in _REBIND_ON and "_layer" in self.__dict__:
            self._bind()

    def forward(self, input):
        return self._conv2d(input)

    def refresh(self):
        """Re-reads weight and bias (needed only after writes through `.data`)."""
        self._layer.refresh()

    def kernels(self):
        """The kernels compiled so far, most recently used first: dicts of input_size,
        layout ('nchw' or 'nhwc'), name, backend and spec."""
        return self._layer.kernels()

    def extra_repr(self):
        text = (f"{self.in_channels}, {self.out_channels}, kernel_size={self.kernel_size}, "
                f"stride={self.stride}, padding={self.padding!r}")
        if self.dilation not in (1, (1, 1)):
            text += f", dilation={self.dilation}"
        if self.groups != 1:
            text += f", groups={self.groups}"
        if self.bias is None:
            text += ", bias=False"
        if self.folded_batchnorm:
            text += ", batchnorm=folded"
        if self.activation is not None:
            text += f", activation={self.activation!r}"
        return text

    def __getstate__(self):
        # The C++ layer is rebuilt on unpickling (it holds packed weights and machine code).
        return {k: v for k, v in self.__dict__.items() if k not in ("_layer", "_conv2d")}

    def __setstate__(self, state):
        super().__setstate__(state)
        self._bind()


# nn.Module.__call__ without its bookkeeping when no hook needs it (in C++: that bookkeeping
# costs more than a small convolution); with hooks, nn.Module.__call__ itself.
Conv2d.__call__ = torch_native().module_call(Conv2d)


# ---------------------------------------------------------------------------- 8 bits


def _quantized_conv_types():
    """{module type: fused ReLU} for PyTorch's quantized 2-D convolutions."""
    try:  # PyTorch 2 moved the fused modules under torch.ao
        import torch.ao.nn.intrinsic.quantized as nniq
    except ImportError:
        import torch.nn.intrinsic.quantized as nniq
    import torch.ao.nn.quantized as nnq
    return {nnq.Conv2d: False, nniq.ConvReLU2d: True}


def quantized_unsupported_reason(qconv):
    """Why convjit cannot stand in for this quantized convolution, or None."""
    if qconv.padding_mode != "zeros":
        return f"padding_mode={qconv.padding_mode!r}: convjit pads with zeros only"
    weight = qconv.weight()
    if weight.dtype != torch.qint8:
        return f"weight is {weight.dtype}: the 8-bit kernels take qint8 weights"
    if weight.qscheme() in (torch.per_channel_affine, torch.per_channel_symmetric):
        zero_points = weight.q_per_channel_zero_points()
    elif weight.qscheme() in (torch.per_tensor_affine, torch.per_tensor_symmetric):
        zero_points = torch.tensor([weight.q_zero_point()])
    else:
        return f"weight is quantized {weight.qscheme()}"
    if zero_points.any():
        return "weight zero points other than 0 are not supported"
    return None


class QuantizedConv2d(nn.Module):
    """torch.ao.nn.quantized.Conv2d (or the fused ConvReLU2d: relu=True) on convjit's 8-bit kernels.

    Takes quint8 per-tensor tensors (N, C, H, W) of any size and returns quint8 tensors with the
    module's scale and zero point, channels_last in memory (the layout the kernels compute in;
    an NCHW-contiguous input is transposed first). Results equal convjit's exact integer
    reference and are within one quantized step of PyTorch's own module. A kernel and packed
    weights per input size and input quantization, made on first use.
    """

    def __init__(self, qconv, *, threads=None):
        super().__init__()
        relu = _quantized_conv_types().get(type(qconv))
        reason = quantized_unsupported_reason(qconv) if relu is not None else \
            f"expected a quantized Conv2d or ConvReLU2d, got {type(qconv).__name__}"
        if reason:
            raise ConversionError([("", reason)])
        for name in _CONV_ATTRIBUTES:
            setattr(self, name, getattr(qconv, name))
        self.relu = relu
        self.threads = threads
        self.scale, self.zero_point = float(qconv.scale), int(qconv.zero_point)
        weight, bias = qconv.weight(), qconv.bias()
        if weight.qscheme() in (torch.per_tensor_affine, torch.per_tensor_symmetric):
            self._weight_scales = [float(weight.q_scale())]
        else:
            self._weight_scales = [float(v) for v in weight.q_per_channel_scales()]
        self._hwio = weight.int_repr().permute(2, 3, 1, 0).contiguous().numpy()
        self._bias = None if bias is None else bias.detach().float().contiguous().numpy()
        self._layers = {}

    def _layer(self, x):
        key = (tuple(x.shape), x.q_scale(), x.q_zero_point())
        layer = self._layers.get(key)
        if layer is None:
            n, c, h, w = x.shape
            kh, kw = self.kernel_size
            (sh, sw), (dh, dw), (ph, pw) = self.stride, self.dilation, self.padding
            spec = (f"n={n},c={c},h={h},w={w},oc={self.out_channels},kh={kh},kw={kw},sh={sh},sw={sw},"
                    f"dh={dh},dw={dw},ph={ph},pw={pw},g={self.groups},bias={int(self._bias is not None)},"
                    f"src=u8" + (",act=relu" if self.relu else ""))
            layer = torch_native().TorchQuantizedLayer(spec, self._hwio, x.q_scale(), x.q_zero_point(),
                                                       self._weight_scales, self.scale,
                                                       self.zero_point, self._bias)
            self._layers[key] = layer
        return layer

    def forward(self, x):
        if not isinstance(x, torch.Tensor) or x.dtype != torch.quint8 or x.qscheme() != torch.per_tensor_affine:
            raise TypeError(f"input: expected a quint8 per-tensor quantized tensor, got "
                            f"{getattr(x, 'dtype', type(x).__name__)}")
        if x.dim() != 4:
            raise ValueError(f"input: expected (N, C, H, W), got shape {tuple(x.shape)}")
        return self._layer(x)(x, 0 if self.threads is None else self.threads)

    def kernels(self):
        """The kernel names made so far, by (input shape, input scale, input zero point)."""
        return {key: layer.name for key, layer in self._layers.items()}

    def extra_repr(self):
        return (f"{self.in_channels}, {self.out_channels}, kernel_size={self.kernel_size}, "
                f"stride={self.stride}, padding={self.padding}, groups={self.groups}, "
                f"scale={self.scale}, zero_point={self.zero_point}" + (", relu=True" if self.relu else ""))


def _quantized_sites(model):
    """(path, parent, child name, module) for every quantized Conv2d / ConvReLU2d child."""
    types = _quantized_conv_types()
    return [(f"{path}.{name}" if path else name, parent, name, child)
            for path, parent in model.named_modules()
            for name, child in parent._modules.items() if type(child) in types]


# ---------------------------------------------------------------------------- convert()


class _ChildrenAsLeaves(torch.fx.Tracer):
    """Traces one module's forward, recording calls of its submodules without entering them."""

    def __init__(self, root):
        super().__init__()
        self._root = root

    def is_leaf_module(self, module, qualified_name):
        return module is not self._root


def _trace(parent):
    """The fx graph of parent.forward over its children, or None when it cannot be traced."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            return _ChildrenAsLeaves(parent).trace(parent)
    except Exception:  # data-dependent control flow, unusual signatures: no fusion here
        return None


class _Fusion:
    def __init__(self, conv_name, batchnorm_name, activation_name, activation):
        self.conv_name = conv_name
        self.batchnorm_name = batchnorm_name
        self.activation_name = activation_name
        self.activation = activation


def _fusions_in(parent, uses, fold_batchnorm, fuse_activations):
    """Conv → [BatchNorm2d] → [activation] chains in parent.forward that can become one
    kernel: each module called once, nowhere else in the model, without hooks, and each
    output used only by the next module of the chain."""
    graph = _trace(parent)
    if graph is None:
        return []
    children = {name: child for name, child in parent._modules.items() if child is not None}
    calls = Counter(node.target for node in graph.nodes if node.op == "call_module")
    # Children whose parameters or buffers forward() reads itself: folding would change them.
    read = {node.target.split(".")[0] for node in graph.nodes if node.op == "get_attr"}

    def alone(name):
        module = children.get(name)
        return (module is not None and calls[name] == 1 and name not in read and uses[id(module)] == 1
                and not _has_hooks(module))

    def sole_consumer(node):
        if len(node.users) != 1:
            return None
        (user,) = node.users
        if user.op != "call_module" or user.args != (node,) or user.kwargs or not alone(user.target):
            return None
        return user

    fusions = []
    for node in graph.nodes:
        if node.op != "call_module" or not alone(node.target):
            continue
        conv = children[node.target]
        if type(conv) is not nn.Conv2d or unsupported_reason(conv):
            continue
        batchnorm_name = activation_name = activation = None
        following = sole_consumer(node)
        if fold_batchnorm and following is not None and _foldable(children[following.target], conv):
            batchnorm_name = following.target
            following = sole_consumer(following)
        if fuse_activations and following is not None:
            activation = _activation_of(children[following.target])
            if activation is not None:
                activation_name = following.target
        if batchnorm_name or activation_name:
            fusions.append(_Fusion(node.target, batchnorm_name, activation_name, activation))
    return fusions


def _conv_sites(model):
    """(parent path, parent, child name, conv) for every nn.Conv2d child in the model."""
    sites = []
    for parent_path, parent in model.named_modules():
        # _modules, not named_children(): that one hides a module's second name.
        for name, child in parent._modules.items():
            if isinstance(child, nn.Conv2d):
                sites.append((parent_path, parent, name, child))
    return sites


def _share_hooks(source, target):
    # The same dicts: handles returned by register_*_hook keep removing them.
    target._forward_pre_hooks = source._forward_pre_hooks
    target._forward_hooks = source._forward_hooks
    target._backward_hooks = source._backward_hooks


def convert(module, *, fold_batchnorm=True, fuse_activations=True, threads=None,
            skip_unsupported=False, inplace=True):
    """Replaces every nn.Conv2d of an eval-mode model by convjit.torch.Conv2d, and every
    quantized Conv2d / ConvReLU2d by convjit.torch.QuantizedConv2d; returns the model.

    fold_batchnorm / fuse_activations: fold a directly following BatchNorm2d, run a directly
    following ReLU / ReLU6 / Hardtanh / LeakyReLU / Hardswish / SiLU / Sigmoid inside the kernel (only where torch.fx shows that nothing
    else sees the intermediate results). threads: per call, None follows torch.get_num_threads().
    A model in training mode, or with convolutions convjit cannot run (padding_mode other than
    'zeros', float64, CUDA, subclasses with their own forward), raises ConversionError and is
    left unchanged; skip_unsupported=True converts the rest and warns about those instead.
    inplace=False converts a deep copy. A model that is itself an nn.Conv2d is returned converted.
    """
    if not isinstance(module, nn.Module):
        raise TypeError(f"module: expected a torch.nn.Module, got {type(module).__name__}")
    # The modules convert() replaces or folds: a quantized model's other modules keep whatever
    # flag PyTorch's convert left them (which computes nothing differently for them).
    training = [path for path, m in module.named_modules()
                if m.training and isinstance(m, (nn.Conv2d, nn.BatchNorm2d))]
    if training:
        raise ConversionError([(training[0], "is in training mode (convjit computes no gradients): "
                                             "call model.eval() first")])
    _arguments.threads_argument(threads, None)
    if not inplace:
        module = copy.deepcopy(module)
    if isinstance(module, nn.Conv2d):
        return Conv2d(module, threads=threads)

    sites = _conv_sites(module)
    problems = [(f"{path}.{name}" if path else name, reason)
                for path, _, name, conv in sites if (reason := unsupported_reason(conv))]
    quantized_sites = _quantized_sites(module)
    problems += [(path, reason) for path, _, _, qconv in quantized_sites
                 if (reason := quantized_unsupported_reason(qconv))]
    if problems and not skip_unsupported:
        raise ConversionError(problems)
    for path, reason in problems:
        warnings.warn(f"convjit.torch.convert: left {path} unconverted: {reason}", stacklevel=2)

    replacements = _plan(module, [s for s in sites if not unsupported_reason(s[3])],
                         fold_batchnorm, fuse_activations, threads)
    replacements += [(parent, name, QuantizedConv2d(qconv, threads=threads))
                     for _, parent, name, qconv in quantized_sites
                     if not quantized_unsupported_reason(qconv)]
    for parent, name, new in replacements:
        setattr(parent, name, new)
    return module


def _plan(model, sites, fold_batchnorm, fuse_activations, threads):
    """Every (parent, child name, new module) convert() will set, all built before any is set
    so a failure leaves the model as it was."""
    uses = Counter(id(m) for _, m in model.named_modules(remove_duplicate=False))
    fusions = {}
    if fold_batchnorm or fuse_activations:
        parents = {id(parent): parent for _, parent, _, _ in sites}
        for parent in parents.values():
            for fusion in _fusions_in(parent, uses, fold_batchnorm, fuse_activations):
                fusions[id(parent), fusion.conv_name] = fusion
    replacements, shared = [], {}
    for _, parent, name, conv in sites:
        fusion = fusions.get((id(parent), name))
        if fusion is None:
            # One module per conv instance, so a conv used in several places stays shared.
            if id(conv) not in shared:
                shared[id(conv)] = Conv2d(conv, threads=threads)
                _share_hooks(conv, shared[id(conv)])
            replacements.append((parent, name, shared[id(conv)]))
            continue
        batchnorm = getattr(parent, fusion.batchnorm_name) if fusion.batchnorm_name else None
        replacements.append((parent, name, Conv2d(conv, activation=fusion.activation,
                                                  batchnorm=batchnorm, threads=threads)))
        for folded in (fusion.batchnorm_name, fusion.activation_name):
            if folded:
                replacements.append((parent, folded, nn.Identity()))
    return replacements
