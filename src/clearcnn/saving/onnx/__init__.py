"""ONNX export: a model's inference graph as an .onnx file for ONNX Runtime (servers, phones, browsers, C++, C#).

The graph takes what `predict` takes, (batch, height, width, channels) float32 with a dynamic batch axis named
"batch", and gives what `predict` gives. Inside, images run channels-first, as ONNX's operators want them (see
graph.py). Layers run as at inference: Dropout is left out, BatchNormalization becomes ONNX's
BatchNormalization with the moving statistics (not folded into the convolution before it, so the file keeps the
model's layers; runtimes fold it themselves). The model's class names, where it carries them (models
trained with `clearcnn train` do), go into the file's metadata as JSON under "class_names"; `doc_string` names
clearcnn and its version.

Needs the `onnx` package (pip install "clearcnn[onnx]"), imported only here, when an export is asked for. Every
layer is checked before the `onnx` package is imported, and the file is written atomically after ONNX's checker
has accepted the graph: a failed export writes nothing.
"""
import importlib.metadata
import json

from ...errors import ClearCNNError, check_int
from ..files import write_atomically
from .graph import Graph, to_model
from .layers import exporter_for

MIN_OPSET, DEFAULT_OPSET = 13, 17


def _onnx(where):
    try:
        import onnx
        import onnx.checker
        import onnx.helper
        import onnx.numpy_helper
    except ImportError:
        raise ClearCNNError(f'{where}: exporting to ONNX needs the onnx package: pip install "clearcnn[onnx]"') \
            from None
    return onnx


def clearcnn_version():
    """The installed clearcnn's version (read from the package's metadata: the package itself imports this module)."""
    try:
        return importlib.metadata.version("clearcnn")
    except importlib.metadata.PackageNotFoundError:  # run from a source tree that was never installed
        return "unknown"


def check_opset(opset, newest, where="export"):
    """`opset` as an int from MIN_OPSET to `newest` (the newest the installed onnx package knows)."""
    return check_int(opset, where, "opset", f"an integer from {MIN_OPSET} to {newest} (ONNX opset versions "
                                            f"this export supports with the installed onnx package)", MIN_OPSET,
                     newest + 1)


def build_model(model, opset=DEFAULT_OPSET):
    """The ONNX ModelProto of a built clearcnn model, checked by ONNX's checker; ClearCNNError for a layer without
    an export, a bad opset or a missing onnx package."""
    where = f"export: {model.where}"
    model._require_built("export")
    rows = model.layer_shapes()
    exporters = [exporter_for(layer) for layer, _, _ in rows]  # every layer checked before any work
    onnx = _onnx(where)
    opset = check_opset(opset, onnx.defs.onnx_opset_version(), where)
    input_shape = model.input_shape
    graph = Graph(model.input_layer.name, len(input_shape), opset)
    for (layer, layer_input_shape, _), export in zip(rows, exporters):
        graph.start_layer(layer.name)
        export(layer, graph, layer_input_shape)
        graph.end_layer()
    graph.start_layer("output")
    graph.channels_last()
    if graph.value == graph.input_name:  # nothing computed: ONNX wants the output to be a value of its own
        graph.add("Identity")
    graph.end_layer()
    version = clearcnn_version()
    metadata = {}
    if model.metadata.get("class_names") is not None:
        metadata["class_names"] = json.dumps(list(model.metadata["class_names"]))
    proto = to_model(onnx, graph, model.name, input_shape, model.output_shape, opset,
                     f"Exported by clearcnn {version} from the Sequential model {model.name!r}.", metadata)
    proto.producer_version = version
    onnx.checker.check_model(proto, full_check=True)
    return proto


def export_onnx(model, filepath, opset=DEFAULT_OPSET):
    """Write the model's inference graph to `filepath` as ONNX (atomically); returns the ModelProto."""
    proto = build_model(model, opset)
    data = proto.SerializeToString()
    write_atomically(filepath, lambda file: file.write(data))
    return proto
