"""Thread control for the PyTorch peers. torch.set_num_threads sets PyTorch's own pool, but
Debian's torch calls OpenBLAS for matmuls, and OpenBLAS keeps its own thread count (all cores by
default): a "1 thread" peer would silently use every core. Set both."""

import ctypes
import glob
import os

import torch


def set_threads(n):
    torch.set_num_threads(n)
    for path in glob.glob("/usr/lib/*/openblas*/libopenblas*.so*") + glob.glob("/usr/lib/*/libopenblas*.so*"):
        try:
            lib = ctypes.CDLL(path, mode=os.RTLD_NOLOAD | os.RTLD_GLOBAL)
        except OSError:
            continue
        for name in ("openblas_set_num_threads", "openblas_set_num_threads64_"):
            fn = getattr(lib, name, None)
            if fn is not None:
                fn(ctypes.c_int(n))
                return
