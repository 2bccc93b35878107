"""Telling torch tensors from NumPy arrays without importing torch, and reaching the C++
module that runs convjit on tensors."""
import sys

_torch_native = None


def is_tensor(obj):
    # A tensor exists only if torch was imported, so torch is never imported for NumPy users.
    torch = sys.modules.get("torch")
    return torch is not None and isinstance(obj, torch.Tensor)


def torch_native():
    """convjit._torch_native, or an ImportError that says how to get it."""
    global _torch_native
    if _torch_native is None:
        import torch  # noqa: F401  (libtorch must be loaded and initialised first)
        try:
            from . import _torch_native as module
        except ImportError as e:
            raise ImportError(
                "convjit was built without PyTorch support (convjit/_torch_native is missing or "
                f"does not load: {e}); install Debian's libtorch-dev and rebuild convjit") from e
        _torch_native = module
    return _torch_native
