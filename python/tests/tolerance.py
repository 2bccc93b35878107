"""The bound every convjit check uses (core/tolerance.cpp), for data drawn from U(-1, 1):
|kernel - exact| <= (min(n, 6*sqrt(n)) + 1) * u * min(n, n/4 + 2*sqrt(n)) per output element,
with n = kh*kw*c/groups + 1 terms and u = 2^-24."""
import math


def tolerance(kh, kw, in_per_group):
    n = kh * kw * in_per_group + 1.0
    magnitude = min(n, n / 4.0 + 2.0 * math.sqrt(n))
    growth = min(n, 6.0 * math.sqrt(n))
    return (growth + 1.0) * 2.0 ** -24 * magnitude
