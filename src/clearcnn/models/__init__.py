"""Models: `from clearcnn.models import Sequential, load_model`."""
from .. import _namespaces, registry
from ..saving import load_model
from .sequential import Sequential

Model = Sequential
registry.register(Sequential, kind="model")
__getattr__ = _namespaces.missing(__name__)
