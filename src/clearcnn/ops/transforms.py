"""The geometry of image transforms, written once: the affine matrices of rotation, zoom and translation, and the
crop box that keeps an aspect ratio. Pure arithmetic on sizes and angles; the resampling is in the kernels.

Coordinates are pixel indices, x along the width and y along the height, with pixel centres on integers. An affine
matrix maps each OUTPUT pixel to the INPUT point it reads (the inverse mapping, as Keras and TensorFlow's
ImageProjectiveTransform do):

    x_in = m[0, 0] * x + m[0, 1] * y + m[0, 2]
    y_in = m[1, 0] * x + m[1, 1] * y + m[1, 2]
"""
import numpy as np


def affine_matrices(height, width, count, angle=None, zoom=None, shift=None):
    """`count` matrices (count, 2, 3) that rotate by `angle` (radians, counter-clockwise as seen on the image),
    zoom by `zoom` (count, 2) = (along x, along y) (a factor above 1 shows more of the image: zooming out) about
    the image centre ((width - 1) / 2, (height - 1) / 2), then shift by `shift` (count, 2) = (x, y) pixels
    (positive moves the content right and down). Each argument is per image; None leaves that part out.

        input point = centre + diag(zoom) @ R(angle) @ (output point - centre) - shift,
        R(angle) = [[cos, -sin], [sin, cos]]

    >>> affine_matrices(3, 5, 1, shift=np.array([[1.0, 2.0]]))[0]
    array([[ 1.,  0., -1.],
           [ 0.,  1., -2.]])
    """
    angle = np.zeros(count) if angle is None else np.asarray(angle, np.float64).reshape(count)
    zoom = np.ones((count, 2)) if zoom is None else np.asarray(zoom, np.float64).reshape(count, 2)
    shift = np.zeros((count, 2)) if shift is None else np.asarray(shift, np.float64).reshape(count, 2)
    cos, sin = np.cos(angle), np.sin(angle)
    linear = np.stack([np.stack([cos, -sin], -1), np.stack([sin, cos], -1)], -2) * zoom[:, :, None]
    centre = np.array([(width - 1) / 2, (height - 1) / 2])
    offset = centre - linear @ centre - shift
    return np.concatenate([linear, offset[:, :, None]], axis=2)


def aspect_crop_box(height, width, target_height, target_width):
    """(top, left, crop_height, crop_width): the largest centred window of a height x width image with the target
    aspect ratio, with Keras's integer rounding (keras.utils.smart_resize, Resizing(crop_to_aspect_ratio=True)).

    >>> aspect_crop_box(100, 200, 50, 50)
    (0, 50, 100, 100)
    """
    crop_height = max(min(height, int(float(width * target_height) / target_width)), 1)
    crop_width = max(min(width, int(float(height * target_width) / target_height)), 1)
    return int(float(height - crop_height) / 2), int(float(width - crop_width) / 2), crop_height, crop_width


def aspect_pad(height, width, target_height, target_width):
    """(rows, columns) of padding added on EACH side so that the image takes the target aspect ratio (one of them
    is 0), with Keras's rounding (Resizing(pad_to_aspect_ratio=True)).

    >>> aspect_pad(100, 200, 50, 50)
    (50, 0)
    """
    padded_height = max(height, int(float(width * target_height) / target_width))
    padded_width = max(width, int(float(height * target_width) / target_height))
    rows = int(float(padded_height - height) / 2)
    return (rows, 0) if rows > 0 else (0, int(float(padded_width - width) / 2))
