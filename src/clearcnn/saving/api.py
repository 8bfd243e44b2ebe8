"""save_model, load_model, save_weights, load_weights: the file's name chooses the format, here and nowhere else.

    the name ends in  save_model       load_model             save_weights     load_weights
    .keras            Keras 3 archive  Keras 3 archive        refused          the archive's weights
    .weights.h5       refused          read as a legacy .h5   Keras 3 weights  Keras 3 or legacy weights
    .h5               refused          legacy Keras model     refused          Keras 3 or legacy weights
    anything else     clearcnn's own   clearcnn's own         an .npz          an .npz, or a model file's weights

export_model writes a model for other runtimes: ONNX for a name ending in .onnx or format="onnx".
"""
import os

from ..errors import ClearCNNError
from . import keras, native

NATIVE, KERAS, KERAS_WEIGHTS, LEGACY_H5 = "native", "keras", "keras weights", "legacy h5"


def file_format(filepath):
    """NATIVE, KERAS, KERAS_WEIGHTS or LEGACY_H5, from the end of the file's name."""
    name = os.fspath(filepath)
    if name.endswith(".weights.h5"):
        return KERAS_WEIGHTS
    if name.endswith(".h5"):
        return LEGACY_H5
    return KERAS if name.endswith(".keras") else NATIVE


MODEL_WRITERS = {KERAS: keras.save_model, NATIVE: native.save_model}
WEIGHTS_WRITERS = {KERAS_WEIGHTS: keras.save_weights, NATIVE: native.save_weights}


def writable(filepath, weights_only=False):
    """Whether save_model (or, with weights_only, save_weights) writes a file of this name's format."""
    return file_format(filepath) in (WEIGHTS_WRITERS if weights_only else MODEL_WRITERS)


def _writer(filepath, writers, refusal):
    """writers[the file's format], or ClearCNNError giving `refusal` for a format that is not written."""
    writer = writers.get(file_format(filepath))
    if writer is None:
        raise ClearCNNError(f"{refusal}; received filepath={os.fspath(filepath)!r}.")
    return writer


def save_model(model, filepath):
    """Write the architecture, compile settings, weights and optimizer state to one file (atomically)."""
    write = _writer(filepath, MODEL_WRITERS,
                    "save: the legacy Keras .h5 format is read, not written; use a name ending in .keras (Keras 3) "
                    "or .clearcnn")
    return write(model, filepath)


def load_model(filepath, compile=True):
    """Rebuild a saved model: same predictions, and (for clearcnn's files and Keras 3 .keras files) compiled as it was
    saved, so that training continues where it stopped; compile=False skips the compile settings."""
    kind = file_format(filepath)
    if kind == NATIVE:
        return native.load_model(filepath, compile)
    if not os.path.isfile(filepath):
        raise ClearCNNError(f"load_model: no such file; received filepath={os.fspath(filepath)!r}.")
    return keras.load_model(filepath, compile) if kind == KERAS else keras.load_legacy_model(filepath)


def save_weights(model, filepath):
    """Weights only: Keras 3 weights for a name ending in .weights.h5, clearcnn's .npz otherwise."""
    write = _writer(filepath, WEIGHTS_WRITERS,
                    "save_weights: Keras weights files must end in .weights.h5")
    return write(model, filepath)


EXPORT_FORMATS = ("onnx",)


def export_model(model, filepath, format=None, opset=None):
    """Write the model's inference graph for another runtime: ONNX (the only format), chosen by format="onnx" or a
    name ending in .onnx. `opset`: the ONNX opset version (default 17). The onnx package is imported only now."""
    try:
        name = os.fspath(filepath)
    except TypeError:
        raise ClearCNNError(f"export: argument `filepath` must be a file name such as \"model.onnx\"; received "
                            f"filepath={filepath!r}.") from None
    if format is None:
        if not name.lower().endswith(".onnx"):
            raise ClearCNNError(f"export: give a file name ending in .onnx, or format=\"onnx\"; received "
                                f"filepath={name!r}.")
        format = "onnx"
    if format not in EXPORT_FORMATS:
        raise ClearCNNError(f"export: argument `format` must be \"onnx\" or None (chosen by the file's name); "
                            f"received format={format!r}.")
    from . import onnx

    return onnx.export_onnx(model, filepath, onnx.DEFAULT_OPSET if opset is None else opset)


def load_weights(model, filepath):
    """Weights saved by save_weights, or those of a model file (clearcnn's or Keras's), matched by position; every
    array is checked before any is assigned."""
    model._require_built("load_weights")
    if file_format(filepath) in (KERAS, KERAS_WEIGHTS, LEGACY_H5):
        return keras.load_weights(model, filepath)
    return native.load_weights(model, filepath)
