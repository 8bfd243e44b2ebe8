"""Keras's names that clearcnn lacks: `import clearcnn as keras` runs Keras code, and where that code reaches for
something clearcnn does not have (keras.layers.LSTM), the error says so by name instead of a bare AttributeError.

Each public namespace sets `__getattr__ = missing(__name__)`; Python calls it only for names the module lacks.
The error is a ClearCNNError and an AttributeError, so hasattr() and getattr(module, name, default) still work.
"""
import inspect
import sys

from .errors import ClearCNNError


class MissingName(ClearCNNError, AttributeError):
    """A name Keras code may use that this clearcnn namespace does not have."""


def offered(module, also=()):
    """The public names of `module` that belong to it: its classes, functions and submodules (not what it imported
    from elsewhere, such as np), and the names in `also`."""
    prefix = module.__name__
    names = []
    for name, value in vars(module).items():
        home = value.__name__ if inspect.ismodule(value) else getattr(value, "__module__", None) \
            if inspect.isclass(value) or inspect.isfunction(value) else None
        if not name.startswith("_") and isinstance(home, str) and (home == prefix or home.startswith(prefix + ".")):
            names.append(name)
    return sorted(set(names) | set(also))


def missing(module_name, public=None, also=(), keras_name=None):
    """The module-level __getattr__ for `module_name`, the namespace Keras calls `keras_name` (by default its
    name with keras for clearcnn); `public` lists its names (default: offered(module, also))."""
    def __getattr__(name):
        if name.startswith("_"):  # Python's and tools' probes (__path__, __wrapped__, _fixture...): plain
            raise AttributeError(f"module {module_name!r} has no attribute {name!r}")
        names = public if public is not None else offered(sys.modules[module_name], also)
        keras_module = keras_name or "keras" + module_name[len("clearcnn"):]
        raise MissingName(f"{keras_module}.{name} is not available in clearcnn ({module_name} has no `{name}`); "
                          f"{module_name} offers: {', '.join(names)}.")
    return __getattr__
