#!/usr/bin/python3
"""Writes bench/networks/{resnet50,mobilenet_v2,vgg16,efficientnet_b0,regnet_y_400mf,googlenet}.txt: every nn.Conv2d of the torchvision
architecture, at 224x224 and batch 1, in the shapes-file format (bench/shapes_file.hpp).

The layers are found by running the architecture once (weights=None: randomly initialised,
nothing is downloaded) with a forward hook on each Conv2d, so the input size of every layer is
what the network really feeds it. Layers with the same shape are listed once, under the name
of their first occurrence, with COUNT = how many times the network has that shape; the bench
weights the network total by it.

    /usr/bin/python3 bench/networks/make_network_shapes.py    # Debian: python3-torchvision
"""
import collections
import os
import sys

NETWORKS = ("resnet50", "mobilenet_v2", "vgg16", "efficientnet_b0", "regnet_y_400mf", "googlenet")
HEADER = "name N C H W OC KH KW SH SW PH PW DH DW G COUNT"


def conv_layers(torch, torchvision, name):
    """[(module name, shape tuple)] in forward order."""
    model = getattr(torchvision.models, name)(weights=None).eval()
    found = []

    def hook(module_name):
        def record(conv, inputs, _output):
            n, c, h, w = inputs[0].shape
            if not isinstance(conv.padding, tuple):
                raise SystemExit(f"{name}.{module_name}: padding '{conv.padding}' is not numeric")
            found.append((module_name, (n, c, h, w, conv.out_channels,
                                        *conv.kernel_size, *conv.stride, *conv.padding,
                                        *conv.dilation, conv.groups)))
        return record

    for module_name, module in model.named_modules():
        if isinstance(module, torch.nn.Conv2d):
            module.register_forward_hook(hook(module_name))
    with torch.no_grad():
        model(torch.zeros(1, 3, 224, 224))
    return found


def flops(shape):
    """Multiply-adds x 2, padded taps counted (ConvShape::flops())."""
    n, c, h, w, oc, kh, kw, sh, sw, ph, pw, dh, dw, g = shape
    out_h = (h + 2 * ph - dh * (kh - 1) - 1) // sh + 1
    out_w = (w + 2 * pw - dw * (kw - 1) - 1) // sw + 1
    return 2 * n * out_h * out_w * oc * kh * kw * (c // g)


def shapes_text(torch, torchvision, name):
    layers = conv_layers(torch, torchvision, name)
    counts = collections.Counter(shape for _, shape in layers)
    first_name = {}
    for module_name, shape in layers:
        first_name.setdefault(shape, module_name.replace(".", "_"))
    total = sum(flops(shape) for _, shape in layers)
    lines = [f"# {name}: every nn.Conv2d of torchvision {torchvision.__version__}'s architecture"
             f" at 224x224, batch 1",
             f"# ({len(layers)} layers, {len(counts)} distinct shapes, {total / 1e9:.2f} GFLOP)."
             f" Written by",
             "# bench/networks/make_network_shapes.py; do not edit.",
             f"# {HEADER}"]
    width = max(len(n) for n in first_name.values())
    for shape, module_name in first_name.items():
        lines.append(f"{module_name:<{width}}  " + " ".join(str(v) for v in shape)
                     + f" {counts[shape]}")
    return "\n".join(lines) + "\n"


def main():
    import torch
    import torchvision
    out_dir = os.path.dirname(os.path.abspath(__file__))
    for name in NETWORKS:
        path = os.path.join(out_dir, name + ".txt")
        with open(path, "w") as f:
            f.write(shapes_text(torch, torchvision, name))
        print(path, file=sys.stderr)


if __name__ == "__main__":
    main()
