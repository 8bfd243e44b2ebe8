"""clearcnn: convolutional neural networks you can read, run fast and see inside."""
from . import callbacks, datasets, initializers, layers, losses, metrics, models, ops, optimizers, utils
from .errors import ClearCNNError
from .models import Sequential, load_model
from .ops.shapes import output_size, size_report

__version__ = "0.1.0"
