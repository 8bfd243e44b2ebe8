"""GlobalAveragePooling2D and GlobalMaxPooling2D: held to PyTorch (forward and gradients), to central
differences in float64, and to the first-maximum rule on ties; keepdims, shapes and bad arguments."""
import numpy as np
import pytest
from test_ops_gradcheck import assert_grad_close, numeric_grad

from clearcnn import ClearCNNError
from clearcnn.layers import Conv2D, Dense, GlobalAveragePooling2D, GlobalAvgPool2D, GlobalMaxPool2D, GlobalMaxPooling2D
from clearcnn.models import Sequential
from clearcnn.ops import swap_batch_axis

torch = pytest.importorskip("torch")
F = torch.nn.functional

LAYERS = {"average": (GlobalAveragePooling2D, F.adaptive_avg_pool2d), "max": (GlobalMaxPooling2D, F.adaptive_max_pool2d)}
SHAPES = [(2, 5, 4, 3), (9, 1, 1, 2), (3, 7, 2, 8)]


def distinct(shape, rng):
    """Values with no ties, so that every window has one maximum and central differences stay on one side."""
    return (rng.permutation(np.prod(shape)).reshape(shape) / np.prod(shape) * 4 - 2).astype(np.float64)


@pytest.mark.usefixtures("engine_backend")
@pytest.mark.parametrize("keepdims", [False, True])
@pytest.mark.parametrize("shape", SHAPES, ids=str)
@pytest.mark.parametrize("kind", LAYERS)
def test_matches_torch_forward_and_gradient(kind, shape, keepdims):
    cls, torch_op = LAYERS[kind]
    rng = np.random.default_rng(sum(shape))
    x = distinct(shape, rng).astype(np.float32)
    layer = cls(keepdims=keepdims)
    y = layer(x)
    assert y.shape == ((shape[0], 1, 1, shape[3]) if keepdims else (shape[0], shape[3]))
    assert y.dtype == np.float32
    xt = torch.from_numpy(np.moveaxis(x, -1, 1).copy()).requires_grad_(True)
    yt = torch_op(xt, 1)  # (N, C, 1, 1)
    expected = yt.detach().numpy()[:, :, 0, 0]
    np.testing.assert_allclose(y.reshape(shape[0], shape[3]), expected, rtol=1e-6, atol=1e-6)
    dy = rng.standard_normal(y.shape).astype(np.float32)
    dx = swap_batch_axis(layer.backward(swap_batch_axis(dy)))
    yt.backward(torch.from_numpy(dy.reshape(shape[0], shape[3])[:, :, None, None].copy()))
    np.testing.assert_allclose(dx, np.moveaxis(xt.grad.numpy(), 1, -1), rtol=1e-6, atol=1e-6)


@pytest.mark.usefixtures("engine_backend")
@pytest.mark.parametrize("keepdims", [False, True])
@pytest.mark.parametrize("kind", LAYERS)
def test_central_differences(kind, keepdims):
    rng = np.random.default_rng(4)
    layer = LAYERS[kind][0](keepdims=keepdims, dtype="float64")
    x = swap_batch_axis(distinct((3, 4, 5, 2), rng))
    layer.build((None, 4, 5, 2))
    y = layer.forward(x)
    r = rng.standard_normal(y.shape)
    dx = layer.backward(r.copy())
    assert_grad_close(dx, numeric_grad(lambda: float(np.sum(layer.forward(x) * r)), x), f"{kind} input")


@pytest.mark.usefixtures("engine_backend")
def test_max_sends_each_gradient_to_the_first_maximum_only():
    x = np.zeros((2, 3, 3, 1), np.float32)
    x[0, 1, 0, 0] = x[0, 2, 2, 0] = x[0, 1, 2, 0] = 5  # three ties: row-major first is (1, 0)
    x[1] = -1  # every cell ties
    layer = GlobalMaxPooling2D()
    np.testing.assert_array_equal(layer(x), [[5], [-1]])
    dx = swap_batch_axis(layer.backward(swap_batch_axis(np.array([[2.0], [3.0]], np.float32))))
    expected = np.zeros_like(x)
    expected[0, 1, 0, 0], expected[1, 0, 0, 0] = 2, 3
    np.testing.assert_array_equal(dx, expected)


def test_average_is_the_sum_over_the_count():
    x = np.arange(2 * 3 * 4 * 5, dtype=np.float64).reshape(2, 3, 4, 5)
    np.testing.assert_allclose(GlobalAveragePooling2D(dtype="float64")(x), x.sum(axis=(1, 2)) / 12)


def test_in_a_model_other_image_sizes_work_and_configs_round_trip():
    model = Sequential([Conv2D(4, 3, padding="same", input_shape=(None, None, 3)), GlobalAvgPool2D(keepdims=True),
                        GlobalMaxPool2D(), Dense(2)])
    assert model.output_shape == (None, 2)
    assert [shape for _, _, shape in model.layer_shapes()][1:3] == [(None, 1, 1, 4), (None, 4)]
    rng = np.random.default_rng(0)
    for size in ((5, 6), (9, 3)):
        assert model.predict(rng.random((2, *size, 3)), verbose=0).shape == (2, 2)
    for layer in model.layers[1:3]:
        config = layer.get_config()
        assert config["data_format"] == "channels_last"
        assert type(layer).from_config(config).get_config() == config
    assert model.layers[1].get_config()["keepdims"] is True


BAD = [(GlobalAveragePooling2D, "keepdims", "yes"), (GlobalMaxPooling2D, "keepdims", 1),
       (GlobalAveragePooling2D, "data_format", "channels_first"), (GlobalMaxPooling2D, "data_format", 3),
       (GlobalAveragePooling2D, "pool_size", 2), (GlobalMaxPooling2D, "dtype", "int32")]


@pytest.mark.parametrize("cls, argument, value", BAD, ids=[f"{c.__name__}-{a}" for c, a, _ in BAD])
def test_every_bad_argument_is_named(cls, argument, value):
    with pytest.raises(ClearCNNError, match=f"`{argument}`"):
        cls(**{argument: value})


@pytest.mark.parametrize("cls", [GlobalAveragePooling2D, GlobalMaxPooling2D])
def test_input_rank_and_channels_are_checked(cls):
    with pytest.raises(ClearCNNError, match="4 dimensions"):
        cls()(np.zeros((2, 3)))
    layer = cls()
    layer(np.zeros((1, 4, 4, 3)))
    with pytest.raises(ClearCNNError, match="3 channels"):
        layer(np.zeros((1, 4, 4, 2)))
    with pytest.raises(ClearCNNError, match="4 dimensions"):
        Sequential([Dense(3, input_shape=(5,)), cls()])


def test_explain_shows_the_sum_and_count_or_the_window_and_winner():
    from clearcnn.explain import explain
    model = Sequential([Conv2D(2, 1, input_shape=(3, 4, 1), kernel_initializer="ones"), GlobalMaxPooling2D(keepdims=True),
                        GlobalAveragePooling2D()])
    image = np.array([[1, 7, 2, 7], [0, 3, 5, 1], [4, 4, 6, 2]], np.float64)[..., None]
    text = explain(model, image, 1, 0, 0, 1).text  # max over the whole image; the first 7 wins
    assert "max = 7, at input row 0, column 1" in text and "1  7  2  7" in text and text.endswith("result = 7")
    averaging = Sequential([Conv2D(1, 1, input_shape=(3, 4, 1), kernel_initializer="ones"), GlobalAveragePooling2D()])
    text = explain(averaging, image, 1, 0, 0, 0).text
    assert "sum = 1 + 7 + 2 + 7 + 0 + 3 + 5 + 1 + 4 + 4 + 6 + 2 = 42" in text and "mean = 42 / 12 = 3.5" in text
    for layer_model, index in ((model, 1), (model, 2), (averaging, 1)):
        outputs = [output[0] for _, output in layer_model.layer_outputs(image[None])]
        explanation = explain(layer_model, image, index, 0, 0, 0)
        assert explanation.value == pytest.approx(float(np.ravel(outputs[index])[0]), rel=1e-6)
    with pytest.raises(ClearCNNError, match="`channel`"):
        explain(model, image, 2, 0, 0, 5)


def test_the_shape_walk_knows_the_new_tokens():
    from clearcnn.explain import parse_spec, walk
    lines = walk(*parse_spec("10x12x3 | conv 8 3 | bn | gmp | dense 4 | bn | dropout 0.5 | dense 2"))
    text = "\n".join(lines)
    assert "each channel's largest value of 8x10 = 80 cells" in text
    assert "output 8x10x8, 32 parameters" in text and "output 4, 16 parameters" in text
    assert "only gamma and beta are trained" in text
    assert lines[-1] == f"total: {224 + 32 + 36 + 16 + 10:,} parameters"
    assert "each channel's mean of 4x4 = 16 cells" in "\n".join(walk(*parse_spec("4x4x2 | gap")))
