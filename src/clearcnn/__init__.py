"""clearcnn: convolutional neural networks you can read, run fast and see inside."""
from . import initializers, layers, ops, utils
from .errors import ClearCNNError
from .ops.shapes import output_size, size_report

__version__ = "0.1.0"
