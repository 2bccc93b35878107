#!/usr/bin/env python3
"""Writes the committed seed corpora of the fuzzers (fuzz/corpus/spec, fuzz/corpus/differential).

Run from anywhere; rewrites both folders. The seeds are deterministic, so re-running it
changes nothing unless this file changes.
"""
import hashlib
import pathlib
import struct

HERE = pathlib.Path(__file__).resolve().parent

# ---------------------------------------------------------------- spec strings
# Valid specs from docs/ARCHITECTURE.md and the tests, every key and spelling, and near misses the
# parser must reject with a convjit::Error.
SPECS = [
    "n=1,c=64,h=56,w=56,oc=64,k=3,p=same",
    "c=1,h=8,w=8,oc=1,k=3,p=same",
    "c=1,h=8,w=8,oc=1,k=3",
    "c=1,h=8,w=8,oc=1,k=3,s=2",
    "c=1,h=28,w=28,oc=1,k=3,p=1,s=3",
    "c=1,h=5,w=5,oc=1,k=3,p=same,s=2",
    "c=3,h=32,w=32,oc=6,k=5,p=valid",
    "c=12,h=12,w=12,oc=12,k=3,g=12,p=1,act=relu",
    "c=6,h=10,w=10,oc=9,k=3,g=3,p=1,act=clamp:-0.25:0.5",
    "c=4,h=6,w=70,oc=3,kh=2,kw=5,sw=2,pt=1,pb=0,pl=3,pr=1,layout=nchw",
    "c=5,h=17,w=19,oc=7,k=3,d=6,p=6",
    "c=16,h=33,w=35,oc=24,k=3,s=2,p=same_lower",
    "n=3,c=2,h=5,w=5,oc=3,k=2,p=valid,bias=0",
    "c=8,h=7,w=9,oc=8,kh=1,kw=7,ph=0,pw=3",
    "c=3,h=224,w=224,oc=64,k=7,s=2,p=3",
    "c=1,h=16777216,w=1,oc=1,kh=1024,kw=1,dh=1024,sh=1024,p=same",
    " c = 3 , h = 8 , w = 8 , oc = 4 , k = 3 ",
    "c=3,h=8,w=8,oc=4,sh=1,sw=2,dh=2,dw=1,kh=3,kw=2",
    # near misses
    "",
    ",",
    "c=3,,h=8",
    "c=3,h=8,w=8,oc=4",
    "c=3,h=8,w=8,oc=4,k=3,k=3",
    "c=3,h=8,w=8,oc=4,k=3,kh=3",
    "c=3,h=8,w=8,oc=4,k=9",
    "c=3,h=8,w=8,oc=4,k=3,g=2",
    "c=3,h=8,w=8,oc=4,k=3,p=sane",
    "c=3,h=8,w=8,oc=4,k=3,p=-1",
    "c=3,h=8,w=8,oc=4,k=3,act=clamp:1:0",
    "c=3,h=8,w=8,oc=4,k=3,act=clamp:nan:1",
    "c=3,h=8,w=8,oc=4,k=3,act=clamp:1e39:2e39",
    "c=3,h=8,w=8,oc=4,k=3,layout=NHWC",
    "c=3,h=8,w=8,oc=4,k=3,bias=2",
    "c=0x10,h=8,w=8,oc=4,k=3",
    "c=3,h=99999999999999999999,w=8,oc=4,k=3",
    "c=3,h=9223372036854775807,w=8,oc=4,k=3",
    "n=16777216,c=1048576,h=16777216,w=16777216,oc=1,k=1",
    "c=1,h=1024,w=1024,oc=1048576,k=1024",
    "c=3,h=8,w=8,oc=4,k=3,pt=9223372036854775807,pb=1",
    "c=3,h=8,w=8,oc=4,k=3,bogus=1",
    "=3",
    "c",
    "c=3\nh=8",
    "c=3,h=8,w=8,oc=4,k=3\x00,p=1",
]

# ---------------------------------------------------------------- differential inputs
# (flags, c, oc, h, w, kh, kw, strides, dilations, padding, pads[4], clamp, side, seed)
# flags: bit0 nchw, bit1 bias, bits2-3 act (1 relu, 2 clamp, 3 the one in `lo`), bit4 n=2,
#        bits5-7 groups (0 dense, 4 depthwise, 6 depthwise x multiplier, 7 grouped)
# With OTHER_ACT, lo = kind | slope << 2: kind 0 leaky_relu (slope -0.5, 0.01, 0.2, 1.5),
# 1 hardswish, 2 silu, 3 sigmoid.
NCHW, BIAS, RELU, CLAMP, OTHER_ACT, BATCH2 = 1, 2, 4, 8, 12, 16
LEAKY_RELU, HARDSWISH, SILU, SIGMOID = range(4)
DW, MULT, GROUPED = 4 << 5, 6 << 5, 7 << 5
VALID, SAME, SAME_LOWER, P, PHPW, PTPBPLPR = range(6)


def shape(flags=BIAS, c=1, oc=1, h=8, w=8, kh=3, kw=3, sh=1, sw=1, dh=1, dw=1, padding=VALID,
          pads=(0, 0, 0, 0), lo=2, hi=4, leading=False, threads2=False, small_budget=False, seed=1):
    # c, oc, h, w, kh, kw are stored as value - 1 (the fuzzer adds 1 back, modulo its range).
    return bytes([
        flags, c - 1, oc - 1, h - 1, w - 1, kh - 1, kw - 1, (sh - 1) | (sw - 1) << 4,
        (dh - 1) | (dw - 1) << 4, padding, *pads, lo | hi << 4,
        (1 if leading else 0) | (2 if threads2 else 0) | (4 if small_budget else 0)]) + struct.pack(">Q", seed)


DIFFERENTIAL = [
    shape(),                                                   # the courses' 8x8, 3x3, valid
    shape(padding=SAME),
    shape(sh=2, sw=2),
    shape(h=3, w=3, kh=2, kw=2, flags=0),
    shape(h=28, w=28, padding=P, pads=(1, 0, 0, 0), sh=3, sw=3),
    shape(c=3, oc=6, h=24, w=32, kh=5, kw=5),
    shape(c=8, oc=8, h=7, w=9, kh=1, kw=7, padding=PTPBPLPR, pads=(0, 0, 6, 0)),
    shape(c=5, oc=7, h=17, w=19, dh=3, dw=3, padding=P, pads=(6, 0, 0, 0)),
    shape(c=9, oc=17, h=5, w=5, kh=7, kw=7, padding=P, pads=(5, 0, 0, 0)),
    shape(c=1, oc=1, h=1, w=1, kh=1, kw=1),
    shape(c=3, oc=5, h=1, w=1, padding=SAME),
    shape(flags=BIAS | DW | RELU, c=12, oc=12, h=12, w=12, padding=P, pads=(1, 0, 0, 0)),
    shape(flags=DW, c=20, oc=20, h=11, w=13, kh=5, kw=5, sh=2, sw=2, padding=P, pads=(2, 0, 0, 0)),
    shape(flags=DW | NCHW | BIAS, c=4, oc=4, h=4, w=4, padding=P, pads=(1, 0, 0, 0)),
    shape(flags=MULT | BIAS, c=3, oc=2, h=9, w=9, padding=SAME),            # oc = 3*3
    shape(flags=GROUPED | CLAMP | BIAS, c=1 + 24, oc=3, h=10, w=10, padding=SAME, lo=2, hi=4),
    shape(flags=NCHW | BIAS, c=1, oc=1, h=24, w=40, kh=4, kw=4, sh=3, sw=3, padding=SAME),
    shape(flags=NCHW, c=7, oc=5, h=13, w=29, dh=2, dw=2, padding=P, pads=(2, 0, 0, 0)),
    shape(flags=NCHW | BIAS, c=4, oc=3, h=6, w=40, kh=2, kw=5, sw=2, padding=PTPBPLPR,
          pads=(1, 0, 3, 1)),
    shape(flags=BATCH2 | BIAS, c=2, oc=3, h=5, w=5, kh=2, kw=2),
    shape(flags=BATCH2 | NCHW | RELU, c=7, oc=9, h=3, w=11, padding=SAME_LOWER),
    shape(c=16, oc=24, h=24, w=35, sh=2, sw=2, padding=SAME_LOWER),
    shape(c=24, oc=24, h=6, w=6, kh=1, kw=1, leading=True),
    shape(c=17, oc=1, h=4, w=4, kh=1, kw=1, leading=True),
    shape(c=1, oc=17, h=4, w=4, kh=1, kw=1, threads2=True),
    shape(c=1, oc=1, h=1, w=9, kh=1, kw=7, padding=PTPBPLPR, pads=(0, 0, 6, 6)),
    shape(flags=NCHW, c=1, oc=1, h=9, w=1, kh=7, kw=1, padding=PTPBPLPR, pads=(6, 6, 0, 0)),
    shape(c=3, oc=1, h=9, w=9, sh=3, sw=3, padding=PTPBPLPR, pads=(0, 3, 0, 3)),
    shape(flags=CLAMP | BIAS | NCHW, c=6, oc=9, h=10, w=10, padding=SAME, lo=0, hi=8),
    shape(c=8, oc=16, h=12, w=12, kh=3, kw=1, dh=2, padding=PHPW, pads=(2, 0, 0, 0),
          leading=True, threads2=True),
    shape(flags=DW | BIAS, c=13, oc=13, h=7, w=7, padding=SAME, leading=True),
    shape(flags=GROUPED | NCHW | BIAS, c=2 + 48, oc=6, h=8, w=12, kh=3, kw=3, padding=SAME),
    shape(c=24, oc=24, h=14, w=14, padding=SAME, threads2=True),
    shape(flags=BIAS | RELU, c=5, oc=10, h=9, w=11, padding=SAME, seed=2),
    shape(flags=BATCH2 | BIAS | NCHW, c=2, oc=2, h=24, w=40, kh=7, kw=7, sh=2, sw=3,
          dh=1, dw=2, padding=SAME, leading=True),
    shape(c=3, oc=3, h=2, w=2, kh=7, kw=7, padding=P, pads=(7, 0, 0, 0)),
    shape(flags=OTHER_ACT | BIAS, c=5, oc=9, h=9, w=9, padding=SAME, lo=LEAKY_RELU | 0 << 2),
    shape(flags=OTHER_ACT | BIAS | NCHW, c=3, oc=4, h=10, w=12, padding=SAME, lo=LEAKY_RELU | 3 << 2),
    shape(flags=OTHER_ACT | BIAS | DW, c=12, oc=12, h=8, w=8, padding=SAME, lo=HARDSWISH),
    shape(flags=OTHER_ACT | BIAS, c=16, oc=20, h=7, w=7, kh=1, kw=1, lo=SILU, threads2=True),
    shape(flags=OTHER_ACT | NCHW, c=2, oc=3, h=9, w=17, padding=SAME, lo=SIGMOID),
    # A 4 KiB band budget: input-channel passes at avx2.
    shape(flags=BIAS | RELU, c=64, oc=32, h=9, w=9, sh=2, sw=2, padding=SAME, small_budget=True),
    shape(c=64, oc=30, h=9, w=9, sh=2, sw=2, padding=SAME, small_budget=True, threads2=True, leading=True),
]


def write(folder, items, suffix):
    folder.mkdir(parents=True, exist_ok=True)
    for old in folder.iterdir():
        old.unlink()
    for item in items:
        data = item.encode() if isinstance(item, str) else item
        name = hashlib.sha1(data).hexdigest()[:16] + suffix
        (folder / name).write_bytes(data)


if __name__ == "__main__":
    write(HERE / "corpus" / "spec", SPECS, ".txt")
    write(HERE / "corpus" / "differential", DIFFERENTIAL, ".bin")
    print(f"{len(SPECS)} spec seeds, {len(DIFFERENTIAL)} differential seeds")
