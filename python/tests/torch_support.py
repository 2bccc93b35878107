"""Helpers for the tests that use PyTorch (imported only by them, after importorskip)."""
import torch


def relative_error(got, expected):
    """max |got - expected| over max |expected|: the measure the issue's targets use."""
    return ((got.double() - expected.double()).abs().max() / expected.double().abs().max()).item()


def randomised_batchnorm(model, seed=0):
    """Non-trivial BatchNorm statistics and affine parameters (a fresh model has mean 0, var 1,
    weight 1, bias 0, which would make folding them a no-op); returns the model in eval mode."""
    gen = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for m in model.modules():
            if isinstance(m, torch.nn.BatchNorm2d):
                m.running_mean.copy_(torch.rand(m.num_features, generator=gen) * 0.2 - 0.1)
                m.running_var.copy_(torch.rand(m.num_features, generator=gen) * 0.5 + 0.75)
                m.weight.copy_(torch.rand(m.num_features, generator=gen) * 0.5 + 0.75)
                m.bias.copy_(torch.rand(m.num_features, generator=gen) * 0.2 - 0.1)
    return model.eval()
