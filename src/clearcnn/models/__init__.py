"""Models: `from clearcnn.models import Sequential, load_model`."""
from ..io.native import load_model
from .sequential import Sequential

Model = Sequential
