"""keras.utils's single-image helpers, through Pillow (imported when first used): load_img, img_to_array,
array_to_img, save_img. They read as carefully as the image-folder loader (the same four formats, Pillow's
decompression-bomb limit) and take Keras's arguments.

The usual way to predict on one photo:

>>> img = load_img("cat.jpg", target_size=(180, 180))          # doctest: +SKIP
>>> model.predict(img_to_array(img)[None])                      # doctest: +SKIP
"""
import io
import os

import numpy as np

from ..datasets._files import open_regular
from ..datasets.images import _PILLOW_FORMATS, _PILLOW_MODES, _RESAMPLING, _crop_box, _pillow
from ..errors import ClearCNNError, check_bool, fail, real_array


def _check_data_format(data_format, where):
    if data_format not in (None, "channels_last", "channels_first"):
        fail(where, "data_format", data_format, '"channels_last" or "channels_first"')
    return data_format or "channels_last"


def load_img(path, color_mode="rgb", target_size=None, interpolation="nearest", keep_aspect_ratio=False):
    """A PIL image from a file (or a BytesIO), converted to `color_mode` and resized to `target_size`
    (height, width); with keep_aspect_ratio, cropped to that aspect ratio around the centre first."""
    where = "load_img"
    image = _pillow(where)
    if color_mode not in _PILLOW_MODES:
        fail(where, "color_mode", color_mode, '"rgb", "rgba" or "grayscale"')
    if interpolation not in _RESAMPLING:
        fail(where, "interpolation", interpolation, " or ".join(f'"{name}"' for name in _RESAMPLING))
    if target_size is not None and not (isinstance(target_size, (tuple, list)) and len(target_size) == 2 and
                                        all(isinstance(v, int) and v > 0 for v in target_size)):
        fail(where, "target_size", target_size, "None or (height, width) such as (180, 180)")
    try:
        if isinstance(path, io.BytesIO):
            data = io.BytesIO(path.getvalue())
        else:
            with open_regular(os.fspath(path)) as file:
                data = io.BytesIO(file.read())
        img = image.open(data, formats=_PILLOW_FORMATS)
        area = img.width * img.height
        if image.MAX_IMAGE_PIXELS and area > image.MAX_IMAGE_PIXELS:
            raise image.DecompressionBombError(f"{img.width} x {img.height} = {area} pixels is more than "
                                               f"PIL.Image.MAX_IMAGE_PIXELS ({image.MAX_IMAGE_PIXELS})")
        if img.mode in ("P", "PA"):  # palette images: expand, keeping any transparency
            img = img.convert("RGBA")
        keep = color_mode == "grayscale" and img.mode in ("L", "I;16", "I")  # Keras keeps deep grayscale
        img = img if keep else img.convert(_PILLOW_MODES[color_mode])
        if target_size is not None and img.size != (target_size[1], target_size[0]):
            resample = getattr(getattr(image, "Resampling", image), _RESAMPLING[interpolation])
            # keep_aspect_ratio: the centred box of the target's aspect ratio is what is resized (Keras's rule)
            box = _crop_box(img.size, target_size) if keep_aspect_ratio else None
            img = img.resize((target_size[1], target_size[0]), resample, box=box)
        img.load()
        return img
    except Exception as exc:  # Pillow signals damaged files with many exception types
        if isinstance(exc, ClearCNNError):
            raise
        raise ClearCNNError(f"{where}: cannot read the image file {path!r} ({type(exc).__name__}: {exc}); it is "
                            f"missing, corrupt, not a BMP, GIF, JPEG or PNG image, or too large.") from exc


def img_to_array(img, data_format=None, dtype=None):
    """A PIL image (or an array) as a float32 array (height, width, channels); channels_first puts channels first."""
    data_format = _check_data_format(data_format, "img_to_array")
    x = np.asarray(img, dtype=dtype or "float32")
    if x.ndim == 2:
        x = x[:, :, None]
    if x.ndim != 3:
        raise ClearCNNError(f"img_to_array: an image must have 2 or 3 axes; received shape {x.shape}.")
    return x.transpose(2, 0, 1) if data_format == "channels_first" else x


def array_to_img(x, data_format=None, scale=True, dtype=None):
    """A (height, width, channels) array as a PIL image; with `scale`, the values are stretched to 0-255 first.
    1 channel gives a grayscale image, 3 RGB, 4 RGBA."""
    where = "array_to_img"
    image = _pillow(where)
    data_format = _check_data_format(data_format, where)
    scale = check_bool(scale, where, "scale")
    x = real_array(x, where, "argument `x`").astype(dtype or "float32")
    if x.ndim != 3:
        raise ClearCNNError(f"{where}: argument `x` must be one image of 3 axes (height, width, channels); received "
                            f"shape {x.shape}.")
    if data_format == "channels_first":
        x = x.transpose(1, 2, 0)
    if scale:
        x = x - np.min(x)
        if np.max(x) != 0:
            x /= np.max(x)
        x *= 255
    channels = x.shape[2]
    if channels == 1 and np.max(x) > 255:  # deep grayscale: Pillow's 32-bit mode, as Keras
        return image.fromarray(x[:, :, 0].astype("int32"), "I")
    modes = {1: "L", 3: "RGB", 4: "RGBA"}
    if channels not in modes:
        raise ClearCNNError(f"{where}: an image must have 1, 3 or 4 channels; received {channels}.")
    pixels = x.astype("uint8")
    return image.fromarray(pixels[:, :, 0] if channels == 1 else pixels, modes[channels])


def save_img(path, x, data_format=None, file_format=None, scale=True, **kwargs):
    """Write array `x` as an image file (array_to_img, then Pillow's save); an RGBA image saved as JPEG loses its
    alpha channel, as in Keras."""
    img = array_to_img(x, data_format=data_format, scale=scale)
    name = os.fspath(path) if not hasattr(path, "write") else ""
    if img.mode == "RGBA" and (file_format in ("jpg", "jpeg") or name.lower().endswith((".jpg", ".jpeg"))):
        img = img.convert("RGB")
    img.save(path, format=file_format, **kwargs)
