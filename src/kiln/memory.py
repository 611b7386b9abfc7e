"""Process-wide memory settings for kiln's heavy background work."""

from __future__ import annotations

import functools


@functools.cache
def reuse_freed_memory() -> None:
    """Have glibc keep freed memory for reuse rather than give each large temporary array
    back to the OS: drift metrics and inference-table appends allocate and free many large
    arrays, and every fresh page costs a fault, which is slow on VMs (it made the KS merge
    3x slower on the benchmark VM). The process keeps its peak memory until it ends.
    Elsewhere than glibc this does nothing."""
    import ctypes
    import ctypes.util

    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
        mallopt = libc.mallopt
    except (OSError, AttributeError):
        return
    m_trim_threshold, m_mmap_threshold = -1, -3  # from glibc's malloc.h
    mallopt(m_mmap_threshold, 1 << 30)
    mallopt(m_trim_threshold, 1 << 30)
