"""ONNX export, held against ONNX's own checker and against ONNX Runtime running the file: its outputs must equal
clearcnn's `predict` on the same inputs, at batch 1 and batch 7 (the batch axis is dynamic)."""
import json
import os
import subprocess
import sys

import numpy as np
import pytest

onnx = pytest.importorskip("onnx")
ort = pytest.importorskip("onnxruntime")

from clearcnn import ClearCNNError  # noqa: E402
from clearcnn.layers import (  # noqa: E402
    Activation,
    AveragePooling2D,
    BatchNormalization,
    CenterCrop,
    Conv2D,
    Dense,
    Dropout,
    Flatten,
    GlobalAveragePooling2D,
    GlobalMaxPooling2D,
    Input,
    Layer,
    MaxPooling2D,
    RandomBrightness,
    RandomContrast,
    RandomCrop,
    RandomFlip,
    RandomRotation,
    RandomTranslation,
    RandomZoom,
    Rescaling,
    Resizing,
)
from clearcnn.models import Sequential  # noqa: E402
from clearcnn.presets import PRESETS, build_preset  # noqa: E402

RTOL = 1e-5


def run_onnx(path, x):
    session = ort.InferenceSession(os.fspath(path), providers=["CPUExecutionProvider"])
    (output,) = session.run(None, {session.get_inputs()[0].name: x})
    return output


def pixels(model, batch, seed=0):
    return np.random.default_rng(seed).uniform(0, 255, (batch, *model.input_shape[1:])).astype(np.float32)


def assert_runtime_matches(model, path, batches=(1, 7), make_input=pixels):
    """ONNX's full check passes and ONNX Runtime gives predict's outputs to RTOL (relative) at each batch size."""
    onnx.checker.check_model(onnx.load(os.fspath(path)), full_check=True)
    for batch in batches:
        x = make_input(model, batch)
        expected = model.predict(x, verbose=0)
        got = run_onnx(path, x)
        assert got.shape == expected.shape
        # Relative to the outputs' scale: an output that is a difference of large float32 sums (a convolution of
        # 0-255 pixels) is near zero and carries the rounding of those sums, whichever order a runtime adds in.
        np.testing.assert_allclose(got, expected, rtol=RTOL, atol=RTOL * np.abs(expected).max())


def perturb_weights(model, seed=1):
    """Non-zero biases and moving statistics too, so that a weight dropped or misplaced by the export shows."""
    rng = np.random.default_rng(seed)
    model.set_weights([rng.uniform(0.5, 2, w.shape) if w.name.endswith("moving_variance") else
                       rng.normal(0, 0.3, w.shape) for w in model.weights])


def mixed_model():
    """Every exported layer and padding mode on odd sizes, so that "same" pads asymmetrically (the odd pixel at the
    end) and strides of 2 leave pixels over."""
    return Sequential([
        Input((23, 19, 3)),
        Rescaling(1 / 127.5, offset=-1),
        Conv2D(4, 3, strides=2, padding="same", activation="relu", name="conv_same_s2"),     # 23x19 -> 12x10
        Conv2D(5, (3, 2), padding="valid", dilation_rate=2, activation="tanh"),              # -> 8x8
        Conv2D(6, 3, padding=((1, 2), (0, 1)), activation="elu"),                             # explicit -> 9x7
        MaxPooling2D(2, strides=2, padding="same"),                                           # -> 5x4
        AveragePooling2D(2, strides=2, padding="same"),                                       # -> 3x2, edge cells
        Conv2D(7, 2, strides=(2, 1), padding="same", use_bias=False, activation="sigmoid"),  # -> 2x2
        AveragePooling2D((2, 1), strides=1, padding=((1, 0), (0, 0))),                        # explicit -> 2x2
        MaxPooling2D((2, 2), strides=1),                                                      # valid -> 1x1
        Activation("leaky_relu"),
        Dropout(0.5),
        Flatten(),
        Dense(9, activation="relu"),
        Layer(name="pass_through"),
        Dense(5, use_bias=False),
        Dropout(0.2),
        Activation("softmax"),
    ], name="mixed")


def image_output_model():
    """A model that ends on images (NHWC out), with a channel softmax and an odd-sized average pooling."""
    return Sequential([Input((9, 11, 2)), Conv2D(3, 3, strides=2, padding="same", activation="softmax"),
                       AveragePooling2D(3, strides=2, padding="same"), Conv2D(4, 1)], name="images_out")


# --- the graph computes what predict computes --------------------------------------------------

@pytest.mark.parametrize("preset", sorted(PRESETS))
def test_presets_run_in_onnx_runtime_as_in_clearcnn(preset, tmp_path):
    model = build_preset(preset)
    perturb_weights(model)
    path = tmp_path / f"{preset}.onnx"
    model.export(path)
    assert_runtime_matches(model, path)


@pytest.mark.parametrize("opset", [13, 17, 18])
def test_every_layer_and_padding_mode_at_several_opsets(opset, engine_backend, tmp_path):
    model = mixed_model()
    perturb_weights(model)
    path = tmp_path / "mixed.onnx"
    model.export(path, opset=opset)
    assert_runtime_matches(model, path)
    assert onnx.load(path).opset_import[0].version == opset


def normalized_model():
    """Batch normalisation on images (with and without gamma and beta) and on vectors, and global average pooling
    (global max pooling and 3-D inputs: the tests below)."""
    return Sequential([
        Input((13, 11, 3)),
        Rescaling(1 / 255),
        Conv2D(8, 3, strides=2, padding="same"), BatchNormalization(), Activation("relu"),   # -> 7x6
        Conv2D(6, 3, padding="same", use_bias=False), BatchNormalization(center=False, scale=False, epsilon=0.1),
        MaxPooling2D(2),                                                                      # -> 3x3
        GlobalAveragePooling2D(), Dropout(0.25),
        Dense(5), BatchNormalization(), Activation("softmax"),
    ], name="normalized")


def test_batch_normalization_and_global_pooling(tmp_path):
    model = normalized_model()
    perturb_weights(model)
    model.export(tmp_path / "bn.onnx")
    assert_runtime_matches(model, tmp_path / "bn.onnx")
    ops = [node.op_type for node in onnx.load(tmp_path / "bn.onnx").graph.node]
    assert ops.count("BatchNormalization") == 3 and ops.count("GlobalAveragePool") == 1
    assert ops.count("Transpose") == 1  # in; global pooling leaves vectors, which need no turning back


@pytest.mark.parametrize("keepdims", [False, True])
def test_global_max_pooling_and_keepdims(keepdims, tmp_path):
    model = Sequential([Input((7, 9, 3)), Conv2D(4, 3, activation="tanh"), GlobalMaxPooling2D(keepdims=keepdims)])
    perturb_weights(model)
    model.export(tmp_path / "gmp.onnx")
    assert_runtime_matches(model, tmp_path / "gmp.onnx")
    assert model.output_shape == ((None, 1, 1, 4) if keepdims else (None, 4))


def test_batch_normalization_on_three_axes(tmp_path):
    model = Sequential([Input((5, 4)), BatchNormalization(), Flatten(), Dense(3)])
    perturb_weights(model)
    model.export(tmp_path / "bn3.onnx")
    assert_runtime_matches(model, tmp_path / "bn3.onnx", make_input=lambda m, b: np.random.default_rng(b).normal(
        size=(b, 5, 4)).astype(np.float32))


def resized_input(height, width, channels=3):
    return lambda model, batch: np.random.default_rng(batch).uniform(0, 255, (batch, height, width, channels)).astype(
        np.float32)


@pytest.mark.parametrize("opset", [13, 17, 18])
@pytest.mark.parametrize("layer", [
    lambda: Resizing(7, 5), lambda: Resizing(19, 23), lambda: Resizing(8, 17),                # shrink, grow, both
    lambda: Resizing(6, 4, interpolation="nearest"), lambda: Resizing(20, 26, interpolation="nearest"),
    lambda: Resizing(26, 5, interpolation="nearest"), lambda: Resizing(1, 4),                  # ties; one row
    lambda: Resizing(5, 4, antialias=True), lambda: Resizing(5, 20, antialias=True),
    lambda: Resizing(6, 6, crop_to_aspect_ratio=True), lambda: Resizing(9, 7, pad_to_aspect_ratio=True, fill_value=9.5),
    lambda: Resizing(4, 4, interpolation="nearest", pad_to_aspect_ratio=True),
    lambda: CenterCrop(8, 5), lambda: CenterCrop(16, 8), lambda: RandomCrop(6, 6)],
    ids=["shrink", "grow", "shrink-grow", "nearest-shrink", "nearest-grow", "nearest-ties", "one-row", "antialias",
         "antialias-grow", "crop-aspect", "pad-aspect", "nearest-pad-aspect", "center-crop", "center-crop-small", "random-crop"])
def test_resizing_and_cropping_as_clearcnn_computes_them(layer, opset, tmp_path):
    """Resizing's half-pixel rule, bilinear and nearest, antialiased, cropped or padded to the aspect ratio; a centred
    crop, and one of an image too small (Keras resizes it instead); RandomCrop as at inference."""
    model = Sequential([Input((13, 10, 3)), layer(), Conv2D(2, 3, padding="same")])
    perturb_weights(model)
    model.export(tmp_path / "resize.onnx", opset=opset)
    assert_runtime_matches(model, tmp_path / "resize.onnx")


def test_resizing_an_input_of_any_size(tmp_path):
    model = Sequential([Input((None, None, 3)), Resizing(12, 10), Conv2D(2, 3), Flatten(), Dense(4)])
    perturb_weights(model)
    model.export(tmp_path / "any.onnx")
    for height, width in ((30, 17), (5, 9), (12, 10)):
        assert_runtime_matches(model, tmp_path / "any.onnx", make_input=resized_input(height, width))


@pytest.mark.parametrize("layer", [lambda: CenterCrop(4, 4), lambda: Resizing(4, 4, antialias=True),
                                   lambda: Resizing(4, 4, crop_to_aspect_ratio=True)])
def test_layers_that_need_a_known_size_say_so(layer, tmp_path):
    model = Sequential([Input((None, None, 3)), layer(), Conv2D(2, 3)])
    with pytest.raises(ClearCNNError, match=f"'{model.layers[0].name}'.*fixed size"):
        model.export(tmp_path / "open.onnx")
    assert os.listdir(tmp_path) == []


def test_random_augmentation_is_left_out(tmp_path):
    model = Sequential([Input((12, 12, 3)), RandomFlip(), RandomRotation(0.2), RandomZoom(0.1),
                        RandomTranslation(0.1, 0.1), RandomContrast(0.2), RandomBrightness(0.2), Rescaling(1 / 255),
                        Conv2D(3, 3), Flatten(), Dense(2)])
    perturb_weights(model)
    model.export(tmp_path / "augment.onnx")
    assert_runtime_matches(model, tmp_path / "augment.onnx")
    ops = [node.op_type for node in onnx.load(tmp_path / "augment.onnx").graph.node]
    assert ops == ["Mul", "Transpose", "Conv", "Transpose", "Flatten", "Gemm"]


def test_a_model_that_ends_on_images(tmp_path):
    model = image_output_model()
    perturb_weights(model)
    model.export(tmp_path / "images.onnx")
    assert_runtime_matches(model, tmp_path / "images.onnx")


def test_height_and_width_left_open(tmp_path):
    """An input of any height and width: "same" becomes ONNX's SAME_UPPER (the odd pixel at the end)."""
    model = Sequential([Input((None, None, 3)), Conv2D(4, 3, strides=2, padding="same", activation="relu"),
                        AveragePooling2D(3, strides=2, padding="same"), Conv2D(2, 2)])
    perturb_weights(model)
    model.export(tmp_path / "open.onnx")
    for height, width in ((15, 12), (8, 9)):
        assert_runtime_matches(model, tmp_path / "open.onnx",
                               make_input=lambda m, b, hw=(height, width): np.random.default_rng(b).normal(
                                   size=(b, *hw, 3)).astype(np.float32))


def test_a_model_of_dropout_only_passes_its_input_through(tmp_path):
    model = Sequential([Input((4,)), Dropout(0.5)])
    model.export(tmp_path / "identity.onnx")
    assert_runtime_matches(model, tmp_path / "identity.onnx", make_input=lambda m, b: np.arange(
        4 * b, dtype=np.float32).reshape(b, 4))


# --- what the file says ---------------------------------------------------------------------------

def test_the_graph_is_channels_last_outside_with_one_transpose_each_way(tmp_path):
    model = build_preset("seed")
    model.metadata = {"class_names": ["bus", "car", "truck"]}
    model.export(tmp_path / "seed.onnx")
    proto = onnx.load(tmp_path / "seed.onnx")
    (graph_input,), (graph_output,) = proto.graph.input, proto.graph.output
    dims = graph_input.type.tensor_type.shape.dim
    assert [d.dim_param or d.dim_value for d in dims] == ["batch", 32, 32, 3]
    assert graph_input.type.tensor_type.elem_type == onnx.TensorProto.FLOAT
    assert [d.dim_param or d.dim_value for d in graph_output.type.tensor_type.shape.dim] == ["batch", 3]
    ops = [node.op_type for node in proto.graph.node]
    assert ops.count("Transpose") == 2 and "Dropout" not in ops
    assert ops.index("Transpose") < ops.index("Conv") and ops[ops.index("Flatten") - 1] == "Transpose"
    # values follow the layers' names; weights keep clearcnn's names
    outputs = {out for node in proto.graph.node for out in node.output}
    assert {layer.name for layer in model.layers} <= outputs
    assert graph_output.name == model.layers[-1].name
    assert {w.name for w in model.weights} <= {init.name for init in proto.graph.initializer}
    kernel = next(i for i in proto.graph.initializer if i.name == model.layers[1].kernel.name)
    np.testing.assert_array_equal(onnx.numpy_helper.to_array(kernel),
                                  model.layers[1].kernel.value.transpose(3, 2, 0, 1))
    metadata = {p.key: p.value for p in proto.metadata_props}
    assert json.loads(metadata["class_names"]) == ["bus", "car", "truck"]
    assert "clearcnn" in proto.doc_string and proto.producer_name == "clearcnn" and proto.producer_version


def test_same_padding_is_asymmetric_with_the_odd_pixel_at_the_end(tmp_path):
    """Keras: 9 wide, kernel 4, stride 1 -> 3 pixels of padding, 1 before and 2 after."""
    model = Sequential([Input((9, 9, 1)), Conv2D(1, 4, padding="same")])
    model.export(tmp_path / "pads.onnx")
    (conv,) = [n for n in onnx.load(tmp_path / "pads.onnx").graph.node if n.op_type == "Conv"]
    pads = next(a for a in conv.attribute if a.name == "pads").ints
    assert list(pads) == [1, 1, 2, 2]


def test_format_from_the_name_or_the_argument(tmp_path):
    model = build_preset("default")
    model.export(tmp_path / "digits.bin", format="onnx")
    assert_runtime_matches(model, tmp_path / "digits.bin", batches=(2,))
    with pytest.raises(ClearCNNError, match=r"\.onnx.*digits\.bin"):
        model.export(tmp_path / "digits.bin")
    with pytest.raises(ClearCNNError, match="format='tflite'"):
        model.export(tmp_path / "digits.onnx", format="tflite")


# --- failures write nothing -----------------------------------------------------------------------

class Doubling(Layer):
    """A layer clearcnn does not know how to export."""

    def forward(self, x, training=False):
        return 2 * x


class MyDense(Dense):
    """A subclass of an exported layer: it may compute something else, so it needs an exporter of its own."""


@pytest.mark.parametrize("odd_layer", [lambda: Doubling(name="twice"), lambda: MyDense(3, name="twice")])
def test_a_layer_without_an_export_fails_naming_it_and_writes_nothing(odd_layer, tmp_path):
    model = Sequential([Input((8, 8, 1)), Conv2D(2, 3), Flatten(), odd_layer()])
    path = tmp_path / "model.onnx"
    with pytest.raises(ClearCNNError, match="'twice'.*no ONNX export"):
        model.export(path)
    assert os.listdir(tmp_path) == []
    path.write_bytes(b"the previous file")
    with pytest.raises(ClearCNNError, match="'twice'"):
        model.export(path)
    assert path.read_bytes() == b"the previous file" and os.listdir(tmp_path) == ["model.onnx"]


@pytest.mark.parametrize("opset", [12, 0, onnx.defs.onnx_opset_version() + 1, 17.0, "17"])
def test_an_opset_outside_the_range_is_refused(opset, tmp_path):
    with pytest.raises(ClearCNNError, match=f"opset.*13.*received opset={opset!r}"):
        build_preset("seed").export(tmp_path / "seed.onnx", opset=opset)
    assert os.listdir(tmp_path) == []


def test_a_model_without_an_input_shape_is_refused(tmp_path):
    with pytest.raises(ClearCNNError, match="export.*built"):
        Sequential([Dense(3)]).export(tmp_path / "model.onnx")
    assert os.listdir(tmp_path) == []


def test_without_the_onnx_package_the_error_says_how_to_install_it(tmp_path, monkeypatch):
    monkeypatch.setitem(sys.modules, "onnx", None)  # `import onnx` raises ImportError
    with pytest.raises(ClearCNNError, match=r'pip install "clearcnn\[onnx\]"'):
        build_preset("seed").export(tmp_path / "seed.onnx")
    assert os.listdir(tmp_path) == []


# --- the command line -----------------------------------------------------------------------------

def clearcnn(cwd, *args):
    return subprocess.run([sys.executable, "-m", "clearcnn", *map(str, args)], cwd=cwd, capture_output=True,
                          text=True, timeout=300)


def test_the_export_command(tmp_path):
    model = build_preset("seed")
    perturb_weights(model)
    model.metadata = {"class_names": ["a", "b", "c"]}
    model.save(tmp_path / "seed.clearcnn")
    result = clearcnn(tmp_path, "export", "seed.clearcnn", "-o", "out.onnx", "--opset", "15")
    assert result.returncode == 0, result.stderr
    assert "out.onnx" in result.stdout
    assert_runtime_matches(model, tmp_path / "out.onnx")
    proto = onnx.load(tmp_path / "out.onnx")
    assert proto.opset_import[0].version == 15
    assert json.loads({p.key: p.value for p in proto.metadata_props}["class_names"]) == ["a", "b", "c"]

    result = clearcnn(tmp_path, "export", "seed.clearcnn")  # default: the model's name with .onnx
    assert result.returncode == 0, result.stderr
    assert (tmp_path / "seed.onnx").is_file()

    result = clearcnn(tmp_path, "export", "seed.clearcnn", "-o", "x.onnx", "--opset", "12")
    assert result.returncode == 1 and result.stderr.startswith("clearcnn: error: ") and "opset" in result.stderr
    assert not (tmp_path / "x.onnx").exists()
    result = clearcnn(tmp_path, "export", "missing.clearcnn")
    assert result.returncode == 1 and "missing.clearcnn" in result.stderr and "Traceback" not in result.stderr
