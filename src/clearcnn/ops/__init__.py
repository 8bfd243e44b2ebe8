"""The engine's contract: what layers, models and optimizers call, whichever backend computes it.

Images are (C, H, W, N) and vectors (F, N) inside the engine (layout.py: the batch innermost); the public API
is Keras's channels-last, converted in one place (models/sequential.py). Geometry (geometry.py) describes one
sliding-window operation, shapes.py the output-size arithmetic. The kernels, forward and backward side by
side, come from the backend chosen in backend.py and are bound here:

    conv2d_forward(x, kernel, bias, geometry, activation, workspace, training) -> y, cache
    conv2d_backward(dy, kernel, cache, geometry, activation, input_grad, workspace) -> dx, dkernel, dbias
    max_pool2d_forward(x, geometry) -> y, cache;   max_pool2d_backward(dy, cache, y, geometry) -> dx
    avg_pool2d_forward(x, geometry) -> y;          avg_pool2d_backward(dy, geometry) -> dx
    dense_forward(x, kernel, bias, activation) -> y, cache
    dense_backward(dy, kernel, cache, activation, input_grad) -> dx, dkernel, dbias
    dense_kernel_storage(kernel) -> the kernel in the memory order the backend wants it kept
    flatten_forward(x), flatten_backward(dy, shape), dropout_forward(x, rate, rng), dropout_backward(dy, mask)
    batch_norm_forward(x, gamma, beta, epsilon, statistics=None) -> y, (mean, variance), cache
    batch_norm_backward(dy, cache, input_grad) -> dx, dgamma, dbeta;  moving_average(moving, batch, momentum)
    global_avg_pool2d_forward(x) -> y (C, N);      global_avg_pool2d_backward(dy, in_shape) -> dx
    global_max_pool2d_forward(x) -> y, winner;     global_max_pool2d_backward(dy, winner, in_shape) -> dx
    affine_forward(x, matrices, interpolation, fill_mode, fill_value) -> y, cache;  affine_backward(dy, cache)
    resize_forward(x, out_hw, interpolation, antialias, crop, pad, fill_value) -> y, cache;  resize_backward
    flip_forward(x, horizontal, vertical) (its own backward);  crop_forward(x, top, left, height, width),
    crop_backward(dy, shape, top, left);  contrast_forward(x, factors, value_range) -> y, cache,
    contrast_backward(dy, cache);  brightness_forward(x, deltas, value_range) -> y, cache, brightness_backward
    sgd_step, adam_step, rmsprop_step: one optimizer step on one weight, in place
    batch_scope(batch): the context a batch's ops run in (the fast backend's threads)
    new_workspace(): what a layer keeps for its ops between calls (opaque; None where nothing is kept)

Activations (get_activation) are objects with forward and backward; the kernels above apply them, fused where
a backend can.
"""
from . import backend
from .backend import describe, get_backend, set_backend, set_num_threads
from .geometry import Geometry
from .layout import swap_batch_axis
from .reference.activations import get as get_activation
from .shapes import SizeReport, output_size, same_padding, size_report
from .transforms import affine_matrices, aspect_crop_box, aspect_pad

set_backend(backend.default_backend())
