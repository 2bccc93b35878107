"""PyTorch's own eager-mode quantized torchvision model against the same model after
convjit.torch.convert: logits' cosine and median forward time, batch 1, one thread.

    PYTHONPATH=build/python taskset -c 1 /usr/bin/python3 bench/quantized_torchvision.py resnet50

No weights are downloaded: random weights, randomised BatchNorm statistics, and calibration on
random data with PyTorch's onednn qconfig (the engine Debian's PyTorch has; no fbgemm)."""
import copy
import os
import sys
import time

import torch
import torchvision

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "python", "tests"))
from torch_support import randomised_batchnorm  # noqa: E402

import convjit.torch as cjt  # noqa: E402


def quantized_model(name):
    model = randomised_batchnorm(getattr(torchvision.models.quantization, name)(weights=None, quantize=False))
    model.fuse_model()
    model.qconfig = torch.ao.quantization.get_default_qconfig("onednn")
    torch.ao.quantization.prepare(model, inplace=True)
    torch.manual_seed(0)
    with torch.no_grad():
        for _ in range(8):
            model(torch.randn(1, 3, 224, 224))
    return torch.ao.quantization.convert(model, inplace=True)


def median_ms(model, x, repeats=15):
    times = []
    with torch.no_grad():
        for _ in range(3):
            model(x)
        for _ in range(repeats):
            start = time.perf_counter()
            model(x)
            times.append(time.perf_counter() - start)
    return sorted(times)[len(times) // 2] * 1e3


def main():
    torch.set_num_threads(1)
    torch.set_num_interop_threads(1)
    torch.backends.quantized.engine = "onednn"
    name = sys.argv[1] if len(sys.argv) > 1 else "resnet50"
    model = quantized_model(name)
    converted = cjt.convert(copy.deepcopy(model))
    x = torch.randn(1, 3, 224, 224)
    with torch.no_grad():
        a, b = model(x), converted(x)
    cosine = torch.nn.functional.cosine_similarity(a.flatten(), b.flatten(), dim=0).item()
    print(f"{name}: logits cosine {cosine:.6f}")
    mine, theirs = median_ms(converted, x), median_ms(model, x)
    print(f"{name}: pytorch {theirs:.2f} ms convjit {mine:.2f} ms ratio {theirs / mine:.2f}")


if __name__ == "__main__":
    main()
