"""Kernels compiled with Numba, one module per family, for the steps NumPy cannot make fast.

Importing this package imports Numba; fast/compiled.py does it on first use, not before. Every kernel works
on one range [start, stop) of its output's leading axis, so that fast/parallel.py can split a call over its
threads (hence nogil), and is held by the tests to the NumPy code it replaces.
"""
import numba

jit = numba.njit(cache=True, nogil=True)
njit_inline = numba.njit(inline="always")
