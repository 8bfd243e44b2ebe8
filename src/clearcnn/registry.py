"""The classes that model files may name: layers by class name (and the aliases Keras also accepts), and models.

Reading a file turns a name such as "Conv2D" into a class. The packages that define classes register them here
when they are imported, as Keras's register_keras_serializable does, so that the code that reads and writes files
needs no import of the layers or the models, and a class defined outside clearcnn can be registered too.

>>> class Twice:
...     pass
>>> register(Twice, kind="example", Double=Twice) is Twice
True
>>> lookup("Double", kind="example") is Twice, lookup("Double"), registered("example")
(True, None, ('Twice',))
"""
from .errors import ClearCNNError

_classes = {}  # (kind, name) -> class; a class sits under its own name and under each alias


def register(*classes, kind="layer", **aliases):
    """Let files name each class by its class name, and the class given for each alias by that alias
    (register(Conv2D, Convolution2D=Conv2D)). Returns the first class, so `@register` decorates a class.

    A name already taken by another class of the same kind raises ClearCNNError; registering again is harmless.
    """
    for name, cls in [(cls.__name__, cls) for cls in classes] + list(aliases.items()):
        known = _classes.get((kind, name))
        if known is not None and known is not cls:
            raise ClearCNNError(f"register: the {kind} name {name!r} already stands for {known.__module__}."
                                f"{known.__qualname__}; received {cls.__module__}.{cls.__qualname__}.")
        _classes[kind, name] = cls
    return classes[0] if classes else None


def lookup(name, kind="layer"):
    """The class registered under `name` for `kind`, or None (also for a name that is not a string)."""
    return _classes.get((kind, name)) if isinstance(name, str) else None


def registered(kind="layer"):
    """The class names registered for `kind`, aliases left out, in the order of registration."""
    return tuple(name for (k, name), cls in _classes.items() if k == kind and cls.__name__ == name)
