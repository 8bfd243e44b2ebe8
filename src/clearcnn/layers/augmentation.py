"""Image augmentation and preprocessing layers, with Keras 3's arguments, defaults and configs.

The random layers (RandomFlip, RandomRotation, RandomZoom, RandomTranslation, RandomContrast, RandomBrightness,
RandomCrop) change images only in training (fit, or a call with training=True) and pass them through unchanged
in predict and evaluate; RandomCrop is the exception Keras documents: outside training, and for images not larger
than its window, it returns the largest centred window of the target aspect ratio, resized. Resizing and
CenterCrop always apply. Each image of a batch gets its own random draw (RandomCrop: one window per batch, as
Keras); the whole batch is transformed at once.

The draws come from the layer's `seed` when one is given, else from the model's generator (created at compile
from the one clearcnn.utils.set_random_seed seeds), so runs repeat exactly under the same seed. They are not
Keras's random numbers: the same seed gives other (equally distributed) draws than in Keras.

Every transform is linear in the pixels apart from clipping to `value_range`, so each layer also computes the
exact gradient for its input and may sit anywhere in a model, after layers with weights too.
"""
import math
import numbers

import numpy as np

from .. import ops
from ..errors import ClearCNNError, check_bool, check_int, check_number, fail, is_sequence
from ..utils import random_generator
from .base import Layer, check_data_format, positive_int

FILL_MODES = ("reflect", "wrap", "constant", "nearest")
INTERPOLATIONS = ("bilinear", "nearest")


def _is_number(value):
    return (isinstance(value, numbers.Real) and not isinstance(value, (bool, np.bool_))
            and math.isfinite(value))


def factor_bounds(factor, where, argument, low, high, low_open=False, expected=None):
    """Keras's `factor` forms as (lower, upper): a number f gives (max(-|f|, low), |f|), a pair is sorted.
    Each number must lie in [low, high] ((low, high] with `low_open`); a pair only has to overlap it, as in Keras
    (RandomRotation((-2, 2)) turns by up to two full turns)."""
    opening = "(" if low_open else "["
    expected = expected or (f"a number in {opening}{low}, {high}] or a pair of numbers (lower, upper) such as "
                            f"(-0.2, 0.3)")

    def within(value):
        return (low < value if low_open else low <= value) and value <= high

    if _is_number(factor):
        if not within(factor):
            fail(where, argument, factor, expected)
        return max(-abs(float(factor)), low), abs(float(factor))
    pair = list(factor) if is_sequence(factor) or isinstance(factor, np.ndarray) else None
    if pair is None or len(pair) != 2 or not all(_is_number(v) for v in pair):
        fail(where, argument, factor, expected)
    lower, upper = sorted(float(v) for v in pair)
    if lower > high or upper < low:
        fail(where, argument, factor, expected)
    return lower, upper


def fraction_bounds(factor, where, argument, low_open=False):
    """RandomZoom's and RandomTranslation's factors: as factor_bounds, but every number, alone or in a pair, must lie
    in [-1, 1] ((-1, 1] with `low_open`), as Keras checks them."""
    expected = (f"a number in {'(' if low_open else '['}-1, 1] or a pair of such numbers (lower, upper) such as "
                f"(-0.2, 0.3)")
    values = [factor] if _is_number(factor) else list(factor) if is_sequence(factor) else None
    if values is None or not all(_is_number(v) and (-1 < v if low_open else -1 <= v) and v <= 1 for v in values):
        fail(where, argument, factor, expected)
    return factor_bounds(factor, where, argument, -1.0, 1.0, low_open, expected)


def _plain_factor(factor):
    """The factor as given, as JSON writes it: a float or a list of two floats."""
    return float(factor) if _is_number(factor) else [float(v) for v in factor]


def _choice(value, where, argument, choices):
    if not isinstance(value, str) or value not in choices:
        fail(where, argument, value, " or ".join(f'"{c}"' for c in choices))
    return value


def _value_range(value_range, where, ordered):
    """[low, high] from a pair of numbers; an `ordered` pair must come low first (a reversed one is sorted)."""
    pair = list(value_range) if is_sequence(value_range) or isinstance(value_range, np.ndarray) else None
    if (pair is None or len(pair) != 2 or not all(_is_number(v) for v in pair) or pair[0] == pair[1]
            or (ordered and pair[0] > pair[1])):
        fail(where, "value_range", value_range, "a pair of numbers (low, high) with low < high, such as (0, 255)")
    return sorted(float(v) for v in pair)


class ImageLayer(Layer):
    """What the image layers share: (batch, H, W, C) inputs, `data_format`, `seed`, and backward.

    Subclasses implement `transform(x)` on the internal (C, H, W, N) layout, returning the output and
    (gradient function, its arguments) for backward, or None where the output is the input. `random` layers
    transform in training only and call `inference(x)` otherwise (the identity by default).
    """
    input_ndim = 4
    random = True

    def __init__(self, seed=None, data_format=None, **kwargs):
        super().__init__(**kwargs)
        self.data_format = check_data_format(data_format, self.where)
        if seed is not None:
            check_int(seed, self.where, "seed", "None or a non-negative integer such as 42")
        self.seed = seed
        self.rng = None if seed is None else random_generator(seed)

    @property
    def generator(self):
        """The layer's own generator (from `seed`), else the model's or the shared one."""
        return self.rng or random_generator()

    def compute_output_shape(self, input_shape):
        if len(input_shape) != 4:
            raise ClearCNNError(self.rank_message(input_shape))
        return tuple(input_shape)

    def check_shape_compatible(self, shape):
        """Images of any height and width; the channel count stays as built."""
        if shape[-1] != self.input_shape[-1]:
            raise ClearCNNError(f"{self.where}: input must have {self.input_shape[-1]} channels (last axis) as "
                                f"built; received an array of shape {tuple(shape)}.")

    def forward(self, x, training=False):
        if self.random and not training:
            y, self._cache = self.inference(x)
        else:
            y, self._cache = self.transform(x)
        return y

    def inference(self, x):
        return x, None

    def backward(self, dy, input_grad=True):
        if not input_grad:
            return None
        if self._cache is None:
            return dy
        gradient, *arguments = self._cache
        return gradient(dy, *arguments)

    def get_config(self):
        return {**super().get_config(), "data_format": self.data_format}


class RandomFlip(ImageLayer):
    """Flips each image with probability 1/2: left-right ("horizontal"), upside down ("vertical"), or both at
    once ("horizontal_and_vertical": a half turn, as Keras draws one choice for both)."""

    def __init__(self, mode="horizontal_and_vertical", seed=None, data_format=None, **kwargs):
        super().__init__(seed=seed, data_format=data_format, **kwargs)
        self.mode = _choice(mode, self.where, "mode", ("horizontal", "vertical", "horizontal_and_vertical"))

    def transform(self, x):
        flips = self.generator.random(x.shape[-1]) <= 0.5
        horizontal = flips if self.mode != "vertical" else None
        vertical = flips if self.mode != "horizontal" else None
        return ops.flip_forward(x, horizontal, vertical), (ops.flip_forward, horizontal, vertical)

    def get_config(self):
        return {**super().get_config(), "seed": self.seed, "mode": self.mode}


class AffineLayer(ImageLayer):
    """Rotation, zoom and translation: one affine resample per batch, each image with its own matrix
    (clearcnn.ops.affine_matrices), then `fill_mode`, `interpolation` and `fill_value` as Keras 3."""

    def __init__(self, fill_mode="reflect", interpolation="bilinear", seed=None, fill_value=0.0, data_format=None,
                 **kwargs):
        super().__init__(seed=seed, data_format=data_format, **kwargs)
        self.fill_mode = _choice(fill_mode, self.where, "fill_mode", FILL_MODES)
        self.interpolation = _choice(interpolation, self.where, "interpolation", INTERPOLATIONS)
        self.fill_value = check_number(fill_value, self.where, "fill_value", "a finite number such as 0.0")

    def transform(self, x):
        _, height, width, batch = x.shape
        matrices = ops.affine_matrices(height, width, batch, **self.draw(height, width, batch))
        y, cache = ops.affine_forward(x, matrices, self.interpolation, self.fill_mode, self.fill_value)
        return y, (ops.affine_backward, cache)

    def draw(self, height, width, batch):
        """The keyword arguments of affine_matrices for one batch."""
        raise NotImplementedError

    def get_config(self):
        return {**super().get_config(), "fill_mode": self.fill_mode, "fill_value": self.fill_value,
                "interpolation": self.interpolation, "seed": self.seed}


class RandomRotation(AffineLayer):
    """Turns each image about its centre by a random fraction of a full turn drawn from `factor`: 0.1 turns by
    up to 36 degrees either way, (-0.2, 0.3) from -72 to 108 degrees; positive angles turn counter-clockwise."""

    def __init__(self, factor, fill_mode="reflect", interpolation="bilinear", seed=None, fill_value=0.0,
                 data_format=None, **kwargs):
        super().__init__(fill_mode, interpolation, seed, fill_value, data_format, **kwargs)
        self.factor = factor_bounds(factor, self.where, "factor", -1.0, 1.0)

    def draw(self, height, width, batch):
        degrees = self.generator.uniform(self.factor[0] * 360, self.factor[1] * 360, batch)
        return {"angle": np.deg2rad(degrees)}

    def get_config(self):
        return {**super().get_config(), "factor": self.factor}


class RandomZoom(AffineLayer):
    """Zooms each image about its centre by 1 + a factor drawn from `height_factor` (vertically) and
    `width_factor` (horizontally; None: the same zoom both ways). Positive factors zoom out (the image shrinks
    and `fill_mode` fills the border), negative ones zoom in; each number in (-1, 1]."""

    def __init__(self, height_factor, width_factor=None, fill_mode="reflect", interpolation="bilinear", seed=None,
                 fill_value=0.0, data_format=None, **kwargs):
        super().__init__(fill_mode, interpolation, seed, fill_value, data_format, **kwargs)
        self.height_bounds = fraction_bounds(height_factor, self.where, "height_factor", low_open=True)
        self.width_bounds = (None if width_factor is None else
                             fraction_bounds(width_factor, self.where, "width_factor", low_open=True))
        self.height_factor = _plain_factor(height_factor)
        self.width_factor = None if width_factor is None else _plain_factor(width_factor)

    def draw(self, height, width, batch):
        zoom_y = 1 + self.generator.uniform(*self.height_bounds, batch)
        zoom_x = zoom_y if self.width_bounds is None else 1 + self.generator.uniform(*self.width_bounds, batch)
        return {"zoom": np.stack([zoom_x, zoom_y], axis=1)}

    def get_config(self):
        return {**super().get_config(), "height_factor": self.height_factor, "width_factor": self.width_factor}


class RandomTranslation(AffineLayer):
    """Shifts each image by a fraction of its height drawn from `height_factor` (positive: down) and of its width
    drawn from `width_factor` (positive: right); each number in [-1, 1]."""

    def __init__(self, height_factor, width_factor, fill_mode="reflect", interpolation="bilinear", seed=None,
                 fill_value=0.0, data_format=None, **kwargs):
        super().__init__(fill_mode, interpolation, seed, fill_value, data_format, **kwargs)
        self.height_bounds = fraction_bounds(height_factor, self.where, "height_factor")
        self.width_bounds = fraction_bounds(width_factor, self.where, "width_factor")
        self.height_factor, self.width_factor = _plain_factor(height_factor), _plain_factor(width_factor)

    def draw(self, height, width, batch):
        down = self.generator.uniform(*self.height_bounds, batch) * height
        right = self.generator.uniform(*self.width_bounds, batch) * width
        return {"shift": np.stack([right, down], axis=1)}

    def get_config(self):
        return {**super().get_config(), "height_factor": self.height_factor, "width_factor": self.width_factor}


class RandomContrast(ImageLayer):
    """y = (x - mean) * c + mean per image and channel (the mean over the image's pixels), clipped to
    `value_range`, with c drawn from [1 - lower, 1 + upper] for `factor` = (lower, upper). As in Keras 3, a single
    number f means (0, f): contrast only raised, up to 1 + f; pass (f, f) for [1 - f, 1 + f]."""

    def __init__(self, factor, value_range=(0, 255), seed=None, data_format=None, **kwargs):
        super().__init__(seed=seed, data_format=data_format, **kwargs)
        self.factor = factor_bounds(factor, self.where, "factor", 0.0, 1.0)
        self.value_range = _value_range(value_range, self.where, ordered=True)

    def transform(self, x):
        factors = self.generator.uniform(1 - self.factor[0], 1 + self.factor[1], x.shape[-1])
        y, cache = ops.contrast_forward(x, factors, self.value_range)
        return y, (ops.contrast_backward, cache)

    def get_config(self):
        return {**super().get_config(), "factor": self.factor, "value_range": self.value_range, "seed": self.seed}


class RandomBrightness(ImageLayer):
    """Adds to each image a delta drawn from `factor` (a fraction of the width of `value_range`: 0.2 adds up to
    +-20% of 255 by default), then clips to `value_range`."""

    def __init__(self, factor, value_range=(0, 255), seed=None, data_format=None, **kwargs):
        super().__init__(seed=seed, data_format=data_format, **kwargs)
        self.factor = factor_bounds(factor, self.where, "factor", -1.0, 1.0)
        self.value_range = _value_range(value_range, self.where, ordered=False)

    def transform(self, x):
        deltas = self.generator.uniform(*self.factor, x.shape[-1]) * (self.value_range[1] - self.value_range[0])
        y, inside = ops.brightness_forward(x, deltas, self.value_range)
        return y, (ops.brightness_backward, inside)

    def get_config(self):
        return {**super().get_config(), "factor": self.factor, "value_range": self.value_range, "seed": self.seed}


class SizedImageLayer(ImageLayer):
    """Layers whose output is `height` x `width`: Resizing, CenterCrop and RandomCrop."""

    def __init__(self, height, width, seed=None, data_format=None, **kwargs):
        super().__init__(seed=seed, data_format=data_format, **kwargs)
        self.height = positive_int(height, self.where, "height", 224)
        self.width = positive_int(width, self.where, "width", 224)

    def compute_output_shape(self, input_shape):
        batch, _, _, channels = super().compute_output_shape(input_shape)
        return batch, self.height, self.width, channels

    def crop(self, x, top, left):
        """The height x width window at (top, left)."""
        y = ops.crop_forward(x, top, left, self.height, self.width)
        return y, (ops.crop_backward, x.shape, top, left)

    def resize(self, x, interpolation="bilinear", antialias=False, crop=None, pad=(0, 0), fill_value=0.0):
        y, cache = ops.resize_forward(x, (self.height, self.width), interpolation, antialias, crop, pad, fill_value)
        return y, (ops.resize_backward, cache)

    def smart_resize(self, x):
        """The largest centred window with the target aspect ratio, resized bilinearly (keras.utils.smart_resize)."""
        return self.resize(x, crop=ops.aspect_crop_box(*x.shape[1:3], self.height, self.width))

    def get_config(self):
        return {**super().get_config(), "height": self.height, "width": self.width}


class Resizing(SizedImageLayer):
    """Resizes images to height x width (Keras 3's rule: half-pixel centres; "bilinear" or "nearest";
    `antialias` widens the filter when shrinking). `crop_to_aspect_ratio` first takes the largest centred window
    of the target aspect ratio; `pad_to_aspect_ratio` instead pads both sides with `fill_value`."""
    random = False

    def __init__(self, height, width, interpolation="bilinear", crop_to_aspect_ratio=False, pad_to_aspect_ratio=False,
                 fill_mode="constant", fill_value=0.0, antialias=False, data_format=None, **kwargs):
        super().__init__(height, width, data_format=data_format, **kwargs)
        where = self.where
        self.interpolation = _choice(interpolation, where, "interpolation", INTERPOLATIONS)
        self.crop_to_aspect_ratio = check_bool(crop_to_aspect_ratio, where, "crop_to_aspect_ratio")
        self.pad_to_aspect_ratio = check_bool(pad_to_aspect_ratio, where, "pad_to_aspect_ratio")
        if self.crop_to_aspect_ratio and self.pad_to_aspect_ratio:
            raise ClearCNNError(f"{where}: arguments `crop_to_aspect_ratio` and `pad_to_aspect_ratio` cannot both be "
                                f"True; received crop_to_aspect_ratio=True, pad_to_aspect_ratio=True.")
        self.fill_mode = _choice(fill_mode, where, "fill_mode", ("constant",))
        self.fill_value = check_number(fill_value, where, "fill_value", "a finite number such as 0.0")
        self.antialias = check_bool(antialias, where, "antialias")

    def transform(self, x):
        size = x.shape[1:3]
        crop = ops.aspect_crop_box(*size, self.height, self.width) if self.crop_to_aspect_ratio else None
        pad = ops.aspect_pad(*size, self.height, self.width) if self.pad_to_aspect_ratio else (0, 0)
        return self.resize(x, self.interpolation, self.antialias, crop, pad, self.fill_value)

    def get_config(self):
        return {**super().get_config(), "interpolation": self.interpolation,
                "crop_to_aspect_ratio": self.crop_to_aspect_ratio, "pad_to_aspect_ratio": self.pad_to_aspect_ratio,
                "fill_mode": self.fill_mode, "fill_value": self.fill_value, "antialias": self.antialias}


class CenterCrop(SizedImageLayer):
    """The centred height x width window of each image; an image smaller than that on either side is instead
    resized from its largest centred window of the target aspect ratio, as Keras does."""
    random = False

    def __init__(self, height, width, data_format=None, **kwargs):
        super().__init__(height, width, data_format=data_format, **kwargs)

    def transform(self, x):
        height, width = x.shape[1:3]
        if height < self.height or width < self.width:
            return self.smart_resize(x)
        return self.crop(x, (height - self.height) // 2, (width - self.width) // 2)


class RandomCrop(SizedImageLayer):
    """In training, a height x width window at a random place (one for the whole batch, as Keras draws it) of
    images larger than the window on both sides; otherwise, and outside training, the largest centred window of
    the target aspect ratio, resized to height x width (Keras's documented rule), so that the output shape is
    always the same."""

    def __init__(self, height, width, seed=None, data_format=None, **kwargs):
        super().__init__(height, width, seed=seed, data_format=data_format, **kwargs)

    def transform(self, x):
        height, width = x.shape[1:3]
        if height > self.height and width > self.width:
            top = int(self.generator.uniform(0, height - self.height + 1))
            left = int(self.generator.uniform(0, width - self.width + 1))
            return self.crop(x, min(top, height - self.height), min(left, width - self.width))
        return self.smart_resize(x)

    def inference(self, x):
        return self.smart_resize(x)

    def get_config(self):
        return {**super().get_config(), "seed": self.seed}
