"""The one exception type that clearcnn raises for user mistakes, and the small checks that raise it."""
import inspect
import math
import numbers
import os
import sys

import numpy as np


class ClearCNNError(ValueError):
    """A user mistake: the message names where, the argument, the value received and what works.

    It subclasses ValueError so that code written for Keras (which raises ValueError) keeps working.
    """


def fail(where, argument, received, expected):
    """Raise ClearCNNError with the project's message form.

    >>> fail("Conv2D 'conv2d'", "filters", 0, "a positive integer such as 32")
    Traceback (most recent call last):
    ...
    clearcnn.errors.ClearCNNError: Conv2D 'conv2d': argument `filters` must be a positive integer such as 32; received filters=0.
    """
    raise ClearCNNError(f"{where}: argument `{argument}` must be {expected}; received {argument}={received!r}.")


def check_int(value, where, argument, expected, low=0, high=None):
    """`value` as an int: a Python or NumPy integer (not a bool) of at least `low` and, given `high`, below it."""
    if (isinstance(value, (bool, np.bool_)) or not isinstance(value, numbers.Integral) or value < low
            or (high is not None and value >= high)):
        fail(where, argument, value, expected)
    return int(value)


def check_number(value, where, argument, expected, within=lambda v: True):
    """`value` as a float: a finite real number (Python or NumPy, not a bool) for which `within(value)` holds."""
    if (isinstance(value, (bool, np.bool_)) or not isinstance(value, numbers.Real) or not math.isfinite(value)
            or not within(value)):
        fail(where, argument, value, expected)
    return float(value)


def check_verbose(verbose, where):
    """Keras's verbosity as an int: "auto" (1), 0 silent, 1 a progress bar, 2 one line per epoch; True and False."""
    if isinstance(verbose, str) and verbose == "auto":
        return 1
    if isinstance(verbose, (bool, np.bool_)):
        return int(verbose)
    return check_int(verbose, where, "verbose", '"auto", 0 (silent), 1 (a progress bar) or 2 (one line per epoch)')


def check_bool(value, where, argument):
    """`value` as a bool: True or False (NumPy's too); a string such as "no" would silently count as True."""
    if not isinstance(value, (bool, np.bool_)):
        fail(where, argument, value, "True or False")
    return bool(value)


def construct(cls, config, where, argument):
    """cls(**config) for a config that a caller or a file gave, or ClearCNNError when `config` is not a dict of
    cls's arguments (the values are checked by cls itself)."""
    try:
        inspect.signature(cls).bind(**config)
    except TypeError:
        raise ClearCNNError(f"{where}: argument `{argument}` holds a config that is not a dict of {cls.__name__}'s "
                            f"arguments; received {config!r:.200}.") from None
    return cls(**config)


def is_sequence(value):
    """Whether `value` is a list-like collection of items: iterable, but not text, bytes, a dict or an array."""
    return hasattr(value, "__iter__") and not isinstance(value, (str, bytes, dict, np.ndarray))


def real_array(value, where, what, kinds="iuf", hint=""):
    """`value` as a NumPy array of real numbers, or ClearCNNError naming `what` (such as "input `x`").

    `kinds` are the accepted dtype kinds (NumPy's letters: b bool, i and u integers, f floats); text, objects,
    complex numbers and ragged nested lists, whose rows differ in length, cannot be model data.
    """
    try:
        array = np.asarray(value)
    except (ValueError, TypeError):  # NumPy refuses ragged nested sequences
        array = None
    if array is None or array.dtype.kind not in kinds:
        received = ("a ragged nested sequence (rows of different lengths)" if array is None else
                    f"an array of dtype {array.dtype}")
        kind = "bool, integers or floats" if "b" in kinds else "integers or floats"
        raise ClearCNNError(f"{where}: {what} must be a real numeric array ({kind}) of one shape; "
                            f"received {received}.{hint}")
    return array


def format_bytes(count):
    for unit, size in (("TB", 1024 ** 4), ("GB", 1024 ** 3), ("MB", 1024 ** 2), ("KB", 1024)):
        if count >= size:
            return f"{count / size:.2f} {unit}"
    return f"{count:.2f} B"


def memory_size():
    """Bytes of physical memory, or the largest size NumPy can address where the system does not say."""
    try:
        return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    except (AttributeError, ValueError, OSError):
        return sys.maxsize


def memory_message(where, what, shape, dtype, fix):
    count = math.prod(shape)
    return (f"{where}: {what} of shape {tuple(shape)} holds {count:,} numbers and would need "
            f"{format_bytes(count * np.dtype(dtype).itemsize)} of memory as {np.dtype(dtype).name}, and this machine "
            f"has {format_bytes(memory_size())}; {fix}.")


def check_memory(where, what, shape, dtype, fix):
    """Refuse an array that cannot fit before allocating it: one larger than the machine's physical memory would
    fail or swap for minutes, so it is refused up front with the size it would need."""
    if math.prod(shape) * np.dtype(dtype).itemsize > memory_size():
        raise ClearCNNError(memory_message(where, what, shape, dtype, fix))
