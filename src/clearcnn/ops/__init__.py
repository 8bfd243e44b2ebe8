"""The engine: pure NumPy functions on the internal layout, forward and backward side by side.

Images are (C, H, W, N) and vectors (F, N) inside the engine (see layout.py); the layers convert.
"""
from .activations import get as get_activation
from .conv import conv2d_backward, conv2d_forward
from .dense import dense_backward, dense_forward
from .dropout import dropout_backward, dropout_forward
from .flatten import flatten_backward, flatten_forward
from .layout import swap_batch_axis
from .pool import avg_pool2d_backward, avg_pool2d_forward, max_pool2d_backward, max_pool2d_forward
from .shapes import SizeReport, output_size, same_padding, size_report
from .windows import Geometry
