"""Exporters of the image preprocessing and augmentation layers, as they run at inference.

The random augmentation layers pass images through outside training, so they are left out. Resizing becomes ONNX's
Resize with Keras's half-pixel rule: "bilinear" is mode "linear" (ONNX clamps a sample past the border to the
edge pixel, which equals Keras's weights renormalised over the pixels inside), "nearest" takes pixel
floor((o + 0.5) * in / out), which is ONNX's half-pixel position rounded with ties up ("round_prefer_ceil").
Antialiased shrinking is the exception: Keras renormalises the widened filter at the borders and ONNX's
antialias does not, so it becomes the resize's own weights, two MatMuls. CenterCrop becomes Slice.
"""
import numpy as np

from ...errors import ClearCNNError
from ...ops import aspect_crop_box, aspect_pad
from ...ops.reference.resample import resize_matrix


def known_size(layer, input_shape, what):
    """The input's (height, width), or ClearCNNError when the model leaves them open."""
    height, width = input_shape[1:3]
    if height is None or width is None:
        raise ClearCNNError(f"export: {layer.where} {what}, which depends on the input's height and width; the model's "
                            f"input leaves them open (input shape {tuple(input_shape)}). Give the model's input a "
                            f"fixed size to export it.")
    return height, width


def crop(graph, top, left, height, width):
    """Slice of the height x width window at (top, left), in whichever layout the images are."""
    graph.add("Slice", graph.value, graph.constant(f"{graph.scope}/starts", [top, left], np.int64),
              graph.constant(f"{graph.scope}/ends", [top + height, left + width], np.int64),
              graph.constant(f"{graph.scope}/axes", list(graph.image_axes), np.int64))


def resize(graph, in_hw, out_hw, interpolation="bilinear", antialias=False):
    """Resize to out_hw with Keras's rule; `in_hw` may hold None where the model leaves a side open (not with
    antialias)."""
    graph.channels_first()
    if interpolation == "bilinear" and antialias and any(o < i for i, o in zip(in_hw, out_hw)):
        rows, columns = (resize_matrix(i, o, "bilinear", True) for i, o in zip(in_hw, out_hw))
        graph.add("MatMul", graph.value, graph.constant(f"{graph.scope}/column_weights", columns.T))  # (N, C, H, OW)
        graph.add("MatMul", graph.constant(f"{graph.scope}/row_weights", rows), graph.value)  # (N, C, OH, OW)
        return
    # sizes = (batch, channels) of the input, then out_hw: the batch axis stays dynamic
    batch_and_channels = graph.side("Slice", graph.side("Shape", graph.value),
                                    graph.constant(f"{graph.scope}/zero", [0], np.int64),
                                    graph.constant(f"{graph.scope}/two", [2], np.int64))
    sizes = graph.side("Concat", batch_and_channels, graph.constant(f"{graph.scope}/out_hw", out_hw, np.int64), axis=0)
    if interpolation == "nearest":
        graph.add("Resize", graph.value, "", "", sizes, mode="nearest", coordinate_transformation_mode="half_pixel",
                  nearest_mode="round_prefer_ceil")
    else:
        graph.add("Resize", graph.value, "", "", sizes, mode="linear", coordinate_transformation_mode="half_pixel")


def smart_resize(layer, graph, input_shape):
    """The largest centred window of the target aspect ratio, resized bilinearly (keras.utils.smart_resize)."""
    height, width = known_size(layer, input_shape, "crops to the target aspect ratio")
    top, left, crop_height, crop_width = aspect_crop_box(height, width, layer.height, layer.width)
    crop(graph, top, left, crop_height, crop_width)
    resize(graph, (crop_height, crop_width), (layer.height, layer.width))


def export_resizing(layer, graph, input_shape):
    in_hw = input_shape[1:3]
    if layer.antialias:
        known_size(layer, input_shape, "resizes with antialias=True, whose filter widens with the shrinking")
    if layer.crop_to_aspect_ratio:
        height, width = known_size(layer, input_shape, "crops to the target aspect ratio")
        top, left, *in_hw = aspect_crop_box(height, width, layer.height, layer.width)
        crop(graph, top, left, *in_hw)
    elif layer.pad_to_aspect_ratio:
        height, width = known_size(layer, input_shape, "pads to the target aspect ratio")
        rows, columns = aspect_pad(height, width, layer.height, layer.width)
        graph.channels_first()
        pads = [0, 0, rows, columns] * 2  # (N, C, H, W): all the starts, then all the ends
        graph.add("Pad", graph.value, graph.constant(f"{layer.name}/pads", pads, np.int64),
                  graph.constant(f"{layer.name}/fill_value", layer.fill_value), mode="constant")
        in_hw = (height + 2 * rows, width + 2 * columns)
    resize(graph, in_hw, (layer.height, layer.width), layer.interpolation, layer.antialias)


def export_center_crop(layer, graph, input_shape):
    height, width = known_size(layer, input_shape, "crops a centred window")
    if height < layer.height or width < layer.width:  # too small: Keras resizes instead
        smart_resize(layer, graph, input_shape)
    else:
        crop(graph, (height - layer.height) // 2, (width - layer.width) // 2, layer.height, layer.width)


def export_random_crop(layer, graph, input_shape):
    """At inference RandomCrop resizes the largest centred window of the target aspect ratio."""
    smart_resize(layer, graph, input_shape)


def export_passed_through(layer, graph, input_shape):
    """Random augmentation: images pass through unchanged at inference, so the layer is left out."""


EXPORTERS = {"Resizing": export_resizing, "CenterCrop": export_center_crop, "RandomCrop": export_random_crop,
             **{name: export_passed_through for name in ("RandomFlip", "RandomRotation", "RandomZoom",
                                                          "RandomTranslation", "RandomContrast", "RandomBrightness")}}
