"""The ONNX graph while it is built: plain Python lists of nodes and NumPy initializers, turned into ONNX's
protobuf in one place (`to_model`), so that everything before it runs without the `onnx` package.

Layout. The model's input and output are channels-last like `predict`'s arrays; ONNX's Conv, pooling, Resize and
BatchNormalization want images channels-first. The graph keeps track of the layout of the value the next layer
reads: an exporter that needs channels-first calls `channels_first()`, Flatten calls `channels_last()` so that
Dense sees Keras's (h, w, c) order, and the output is turned back at the end. Element-wise layers take either
layout, so an image model has one Transpose after its input and one before Flatten (or before the output).

Names. Every node is named `<layer>/<op>` and its output value the same; the last value a layer produces is
renamed to the layer's own name, so a graph viewer shows the model's layers. Weights keep their clearcnn names
(`conv2d/kernel`).
"""
from dataclasses import dataclass, field

import numpy as np

CHANNELS_FIRST, CHANNELS_LAST = "channels_first", "channels_last"
TO_CHANNELS_FIRST, TO_CHANNELS_LAST = (0, 3, 1, 2), (0, 2, 3, 1)


@dataclass
class Node:
    op_type: str
    inputs: list
    outputs: list
    name: str
    attributes: dict = field(default_factory=dict)


class Graph:
    """The graph so far and the value the next layer reads (`value`, of `rank` with the batch axis, in `layout`),
    for ONNX opset `opset`."""

    def __init__(self, input_name, rank, opset):
        self.opset = opset
        self.names = {input_name}
        self.input_name = self.value = input_name
        self.rank = rank
        self.layout = CHANNELS_LAST
        self.nodes = []
        self.initializers = {}  # name -> float32 or int64 array
        self.scope = "input"

    def unique(self, name):
        """`name`, or `name_1`, `name_2`, ... when it is taken: ONNX wants every value and node name once."""
        candidate, index = name, 0
        while candidate in self.names:
            index += 1
            candidate = f"{name}_{index}"
        self.names.add(candidate)
        return candidate

    def add(self, op_type, *inputs, **attributes):
        """Append a node reading `inputs` (the current value when none are given); its output becomes the current
        value and is returned."""
        self.value = self.side(op_type, *(inputs or [self.value]), **attributes)
        return self.value

    def side(self, op_type, *inputs, **attributes):
        """Append a node that computes an operand (a shape, say): the current value stays; returns its output."""
        name = self.unique(f"{self.scope}/{op_type}")
        self.nodes.append(Node(op_type, list(inputs), [name], name, attributes))
        return name

    def constant(self, name, array, dtype=np.float32):
        """An initializer holding `array` (as float32 by default); returns its name."""
        name = self.unique(name)
        self.initializers[name] = np.array(array, dtype=dtype)  # a C-ordered copy; a number stays a scalar
        return name

    def start_layer(self, name):
        self.scope = name
        self.first_node = len(self.nodes)

    def end_layer(self):
        """Give the layer's last value the layer's name (no node reads it yet)."""
        if len(self.nodes) > self.first_node:
            last = self.nodes[-1]
            self.names.discard(last.outputs[0])
            last.outputs[0] = self.value = self.unique(self.scope)

    def channels_first(self):
        """Make the current image value channels-first (NCHW)."""
        if self.layout == CHANNELS_LAST and self.rank == 4:
            self.add("Transpose", perm=list(TO_CHANNELS_FIRST))
            self.layout = CHANNELS_FIRST

    def channels_last(self):
        """Make the current image value channels-last (NHWC), as the model's own arrays are."""
        if self.layout == CHANNELS_FIRST:
            self.add("Transpose", perm=list(TO_CHANNELS_LAST))
            self.layout = CHANNELS_LAST

    def flatten(self):
        """(batch, ...) -> (batch, features): a vector has no layout to turn back."""
        self.add("Flatten", axis=1)
        self.rank, self.layout = 2, CHANNELS_LAST

    @property
    def channel_axis(self):
        return 1 if self.layout == CHANNELS_FIRST else -1

    @property
    def image_axes(self):
        """The (height, width) axes of the current image value."""
        return (2, 3) if self.layout == CHANNELS_FIRST else (1, 2)


def to_model(onnx, graph, name, input_shape, output_shape, opset, doc_string, metadata):
    """The ONNX ModelProto of `graph`. Shapes are the model's, batch first; None becomes a named dynamic axis."""
    helper = onnx.helper

    def value_info(value_name, shape):
        dims = ["batch" if axis == 0 else (size if size is not None else f"{value_name}_{axis}")
                for axis, size in enumerate(shape)]
        return helper.make_tensor_value_info(value_name, onnx.TensorProto.FLOAT, dims)

    nodes = [helper.make_node(n.op_type, n.inputs, n.outputs, name=n.name, **n.attributes) for n in graph.nodes]
    initializers = [onnx.numpy_helper.from_array(array, initializer_name)
                    for initializer_name, array in graph.initializers.items()]
    proto = helper.make_graph(nodes, name, [value_info(graph.input_name, input_shape)],
                              [value_info(graph.value, output_shape)], initializers)
    opsets = [helper.make_opsetid("", opset)]
    model = helper.make_model(proto, opset_imports=opsets, producer_name="clearcnn", doc_string=doc_string,
                              ir_version=helper.find_min_ir_version_for(opsets))
    helper.set_model_props(model, metadata)
    return model
