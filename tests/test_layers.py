"""The layer API: the article's numbers, pooling by hand, max-pool ties, weights, configs, repr,
initialisers, building on call, Dropout and Flatten. Expected values are worked out by hand or with
plain NumPy formulas in the tests, never taken from clearcnn."""
import json
import math

import numpy as np
import pytest

from clearcnn import initializers
from clearcnn.layers import Activation, AveragePooling2D, Conv2D, Dense, Dropout, Flatten, Input, MaxPooling2D
from clearcnn.ops import swap_batch_axis


def image(rows):
    """(1, H, W, 1) from a list of rows."""
    return np.array(rows, dtype=np.float32)[None, :, :, None]


def backward_public(layer, dy):
    return swap_batch_axis(layer.backward(swap_batch_axis(np.asarray(dy, dtype=layer.dtype))))


# --- the article's worked example (S1, S2, S6) ---------------------------------------------------

ARTICLE_ROWS = [[3, 4, 6, 5, 1, 3], [5, 3, 2, 4, 3, 2], [5, 4, 3, 3, 2, 6]]
VERTICAL_EDGE = [[1, 0, 1], [1, 0, 1], [1, 0, 1]]


@pytest.mark.parametrize("lower_rows", [np.zeros((3, 6)), np.arange(18).reshape(3, 6) % 7 - 3.0],
                         ids=["zeros", "other"])
def test_article_worked_example(lower_rows):
    layer = Conv2D(1, 3, use_bias=False)
    x = image(np.vstack([ARTICLE_ROWS, lower_rows]))
    layer.build((None, 6, 6, 1))
    layer.set_weights([np.array(VERTICAL_EDGE, dtype=np.float32)[:, :, None, None]])
    y = layer(x)
    assert y.shape == (1, 4, 4, 1)  # S1: 6x6 with 3x3 gives 4x4
    np.testing.assert_array_equal(y[0, 0, :, 0], [24, 23, 17, 23])
    # The article's column sums for the first cell: 3+5+5 = 13, 0, 6+2+3 = 11, total 24.
    assert (3 + 5 + 5) * 1 + 0 + (6 + 2 + 3) * 1 == 24


def test_colour_convolution_sums_one_kernel_per_channel():
    """S6: one 3x3 kernel per channel, the three results summed into one 4x4 map."""
    rng = np.random.default_rng(0)
    x = rng.integers(0, 9, (1, 6, 6, 3)).astype(np.float64)
    kernel = rng.integers(-2, 3, (3, 3, 3, 1)).astype(np.float64)
    layer = Conv2D(1, 3, use_bias=False, dtype="float64")
    layer.build((None, 6, 6, 3))
    layer.set_weights([kernel])
    expected = np.zeros((4, 4))
    for c in range(3):
        for r in range(4):
            for q in range(4):
                expected[r, q] += np.sum(x[0, r:r + 3, q:q + 3, c] * kernel[:, :, c, 0])
    np.testing.assert_array_equal(layer(x)[0, :, :, 0], expected)


def test_conv_bias_and_activation_by_hand():
    """S3: y = activation(x * W + b)."""
    layer = Conv2D(2, 2, activation="relu")
    layer.build((None, 2, 2, 1))
    kernel = np.zeros((2, 2, 1, 2), np.float32)
    kernel[..., 0, 0] = [[1, 2], [3, 4]]
    kernel[..., 0, 1] = [[-1, 0], [0, 0]]
    layer.set_weights([kernel, np.array([0.5, 0.25], np.float32)])
    y = layer(image([[1, 1], [2, -1]]))
    # filter 0: 1 + 2 + 6 - 4 + 0.5 = 5.5; filter 1: relu(-1 + 0.25) = 0
    np.testing.assert_array_equal(y[0, 0, 0], [5.5, 0.0])


def test_conv_same_padding_puts_the_odd_pixel_bottom_right():
    layer = Conv2D(1, 2, padding="same", use_bias=False)
    layer.build((None, 3, 3, 1))
    layer.set_weights([np.ones((2, 2, 1, 1), np.float32)])
    y = layer(image([[1, 2, 3], [4, 5, 6], [7, 8, 9]]))[0, :, :, 0]
    np.testing.assert_array_equal(y, [[12, 16, 9], [24, 28, 15], [15, 17, 9]])


# --- S7: pooling by hand -------------------------------------------------------------------------

POOL_IMAGE = [[1, 3, 2, 1], [4, 6, 5, 0], [7, 2, 9, 8], [3, 1, 4, 6]]


@pytest.mark.usefixtures("engine_backend")
def test_max_pooling_2x2_stride_2_by_hand():
    y = MaxPooling2D(pool_size=(2, 2), strides=2)(image(POOL_IMAGE))
    np.testing.assert_array_equal(y[0, :, :, 0], [[6, 5], [7, 9]])


@pytest.mark.usefixtures("engine_backend")
def test_average_pooling_2x2_stride_2_by_hand():
    y = AveragePooling2D(pool_size=(2, 2), strides=2)(image(POOL_IMAGE))
    # (1+3+4+6)/4, (2+1+5+0)/4, (7+2+3+1)/4, (9+8+4+6)/4
    np.testing.assert_array_equal(y[0, :, :, 0], [[3.5, 2.0], [3.25, 6.75]])


def test_pooling_default_strides_equal_the_pool_size():
    """S10: Keras's default pooling stride is the pool size, not 1 as the article says."""
    assert MaxPooling2D()(image(POOL_IMAGE)).shape == (1, 2, 2, 1)
    assert AveragePooling2D(3)(np.zeros((1, 9, 9, 2))).shape == (1, 3, 3, 2)


@pytest.mark.usefixtures("engine_backend")
def test_pooling_is_per_channel_and_per_sample():
    x = np.stack([image(POOL_IMAGE)[0, :, :, 0], -image(POOL_IMAGE)[0, :, :, 0]], axis=-1)  # (4, 4, 2)
    x = np.stack([x, 2 * x])  # (2, 4, 4, 2)
    y = MaxPooling2D()(x)
    np.testing.assert_array_equal(y[0, :, :, 0], [[6, 5], [7, 9]])
    np.testing.assert_array_equal(y[0, :, :, 1], [[-1, 0], [-1, -4]])
    np.testing.assert_array_equal(y[1, :, :, 0], [[12, 10], [14, 18]])


@pytest.mark.usefixtures("engine_backend")
def test_same_pooling_ignores_padded_cells_by_hand():
    x = image([[1, 2, 3], [4, 5, 6], [7, 8, 9]])
    # windows: {1,2,4,5}, {3,6}, {7,8}, {9} (the odd padded pixel is bottom/right)
    np.testing.assert_array_equal(AveragePooling2D(2, padding="same")(x)[0, :, :, 0], [[3, 4.5], [7.5, 9]])
    np.testing.assert_array_equal(MaxPooling2D(2, padding="same")(-x)[0, :, :, 0], [[-1, -3], [-7, -9]])


# --- max-pool ties: one position per window --------------------------------------------------------

@pytest.mark.usefixtures("engine_backend")
def test_max_pool_tie_gradient_goes_to_exactly_one_position_per_window():
    layer = MaxPooling2D(2)
    x = np.full((2, 4, 6, 3), 1.5, np.float32)
    y = layer(x)
    dy = np.random.default_rng(0).uniform(1, 2, y.shape).astype(np.float32)  # all nonzero
    dx = backward_public(layer, dy)
    windows = dx.reshape(2, 2, 2, 3, 2, 3).transpose(0, 1, 3, 5, 2, 4).reshape(2, 2, 3, 3, 4)
    np.testing.assert_array_equal(windows.sum(axis=-1), dy)            # each window passes on exactly dy
    np.testing.assert_array_equal((windows != 0).sum(axis=-1), 1)     # ... to exactly one cell
    np.testing.assert_array_equal(dx[:, ::2, ::2, :], dy)              # the first in row-major order


@pytest.mark.usefixtures("engine_backend")
def test_max_pool_tie_gradient_with_overlapping_windows():
    layer = MaxPooling2D(3, strides=1)
    x = np.zeros((1, 5, 5, 2), np.float32)
    y = layer(x)
    dy = np.arange(1, 1 + y.size, dtype=np.float32).reshape(y.shape)
    dx = backward_public(layer, dy)
    expected = np.zeros_like(x)
    expected[:, :3, :3, :] = dy  # each window's first (top-left) cell is the winner
    np.testing.assert_array_equal(dx, expected)
    assert dx.sum() == dy.sum()


@pytest.mark.usefixtures("engine_backend")
def test_max_pool_tie_gradient_with_same_padding_never_reaches_padding():
    layer = MaxPooling2D(2, padding="same")
    x = np.full((1, 3, 3, 1), -5.0, np.float32)  # negative: zero padding would win, -inf must not
    y = layer(x)
    np.testing.assert_array_equal(y, np.full((1, 2, 2, 1), -5.0))
    dy = np.array([1.0, 2.0, 3.0, 4.0], np.float32).reshape(1, 2, 2, 1)
    dx = backward_public(layer, dy)
    np.testing.assert_array_equal(dx[0, :, :, 0], [[1, 0, 2], [0, 0, 0], [3, 0, 4]])


# --- weights, building, training-mode details ----------------------------------------------------

def test_calling_a_layer_builds_it():
    layer = Conv2D(4, (3, 2))
    assert not layer.built and layer.weights == []
    y = layer(np.zeros((2, 7, 6, 3)))
    assert layer.built
    assert layer.input_shape == (None, 7, 6, 3) and layer.output_shape == (None, 5, 5, 4)
    assert y.shape == (2, 5, 5, 4) and y.dtype == np.float32
    assert [w.shape for w in layer.weights] == [(3, 2, 3, 4), (4,)]
    kernel = layer.get_weights()[0]
    layer(np.ones((1, 9, 9, 3)))  # other sizes and batches reuse the same weights
    np.testing.assert_array_equal(layer.get_weights()[0], kernel)


@pytest.mark.parametrize("make, shape, expected", [
    (lambda: Conv2D(5, (3, 2)), (1, 6, 6, 4), [(3, 2, 4, 5), (5,)]),
    (lambda: Conv2D(5, 3, use_bias=False), (1, 6, 6, 4), [(3, 3, 4, 5)]),
    (lambda: Dense(7), (1, 3), [(3, 7), (7,)]),
    (lambda: Dense(7, use_bias=False), (1, 3), [(3, 7)]),
    (lambda: MaxPooling2D(), (1, 4, 4, 2), []),
    (lambda: Flatten(), (1, 4, 4, 2), []),
])
def test_get_and_set_weights_order_and_shapes(make, shape, expected):
    layer = make()
    layer(np.zeros(shape))
    assert [w.shape for w in layer.get_weights()] == expected
    assert layer.count_params() == sum(math.prod(s) for s in expected)
    new = [np.arange(math.prod(s), dtype=np.float32).reshape(s) + 10 * i for i, s in enumerate(expected)]
    layer.set_weights(new)
    for got, want, weight in zip(layer.get_weights(), new, layer.weights):
        np.testing.assert_array_equal(got, want)
        np.testing.assert_array_equal(weight.value, want)
    if expected:
        assert "kernel" in layer.weights[0].name
        layer.get_weights()[0][...] = -1  # a copy: changing it leaves the layer alone
        np.testing.assert_array_equal(layer.get_weights()[0], new[0])


def test_dense_forward_and_kernel_layout_by_hand():
    layer = Dense(2, activation="sigmoid", dtype="float64")
    layer.build((None, 3))
    kernel = np.array([[1.0, -1.0], [0.5, 2.0], [0.0, 1.0]])  # (in, units), as Keras stores it
    bias = np.array([0.1, -0.2])
    layer.set_weights([kernel, bias])
    x = np.array([[1.0, 2.0, 3.0], [-1.0, 0.0, 0.5]])
    z = np.array([[1 + 1 + 0 + 0.1, -1 + 4 + 3 - 0.2], [-1 + 0 + 0 + 0.1, 1 + 0 + 0.5 - 0.2]])
    np.testing.assert_allclose(layer(x), 1 / (1 + np.exp(-z)), rtol=1e-12)


def test_dense_kernel_stays_transposed_in_memory_and_keras_shaped_outside(engine_backend):
    """The fast backend keeps Dense's (in, units) kernel in Fortran order (each unit's weights in one run), the
    reference as it is; set_weights, the gradient and an SGD step must all keep it so, in place, and show
    Keras's shape."""
    from clearcnn.models import Sequential
    from clearcnn.optimizers import SGD
    model = Sequential([Input((3,)), Dense(2, dtype="float64")])
    model.compile(optimizer=SGD(learning_rate=0.5, momentum=0.9), loss="mse")
    kernel = model.layers[0].kernel
    storage = kernel.value
    model.set_weights([np.array([[1.0, -1.0], [0.5, 2.0], [0.0, 1.0]]), np.zeros(2)])
    x, y = np.array([[1.0, 2.0, 3.0]]), np.array([[0.0, 0.0]])
    model.train_on_batch(x, y)
    # mse over 2 outputs: dL/dz = z, z = x @ kernel = [2, 6]; dkernel = x^T z; velocity = -0.5 dkernel
    expected = np.array([[1.0, -1.0], [0.5, 2.0], [0.0, 1.0]]) - 0.5 * np.outer(x[0], [2.0, 6.0])
    assert kernel.grad.shape == (3, 2)
    np.testing.assert_allclose(kernel.value, expected, rtol=1e-12)
    assert kernel.value is storage and storage.flags.f_contiguous == (engine_backend == "fast")
    assert model.get_weights()[0].shape == (3, 2)


def test_backward_without_input_gradient_still_fills_weight_gradients():
    rng = np.random.default_rng(1)
    layer = Conv2D(3, 2, dtype="float64")
    x = rng.standard_normal((2, 4, 4, 2))
    y = layer(x)
    dy = swap_batch_axis(rng.standard_normal(y.shape))
    assert layer.backward(dy, input_grad=False) is None
    kernel_grad, bias_grad = layer.kernel.grad.copy(), layer.bias.grad.copy()
    assert layer.backward(dy) is not None
    np.testing.assert_array_equal(layer.kernel.grad, kernel_grad)
    np.testing.assert_allclose(bias_grad, swap_batch_axis(dy).sum(axis=(0, 1, 2)))


def test_layers_do_not_change_their_input():
    rng = np.random.default_rng(2)
    x = rng.standard_normal((2, 6, 6, 3))
    saved = x.copy()
    for layer in (Conv2D(2, 3, padding="same", activation="relu", dtype="float64"), MaxPooling2D(dtype="float64"),
                  AveragePooling2D(dtype="float64"), Activation("softmax", dtype="float64"), Flatten(dtype="float64"),
                  Dropout(0.5, seed=1, dtype="float64")):
        y = layer(x, training=True)
        backward_public(layer, np.ones_like(y))
        np.testing.assert_array_equal(x, saved, err_msg=type(layer).__name__)


def test_activation_layer_softmax_normalises_the_channel_axis():
    x = np.random.default_rng(3).standard_normal((2, 3, 4, 5))
    y = Activation("softmax", dtype="float64")(x)
    e = np.exp(x)
    np.testing.assert_allclose(y, e / e.sum(axis=-1, keepdims=True), rtol=1e-12)


@pytest.mark.parametrize("name, formula", [
    ("linear", lambda x: x),
    ("relu", lambda x: np.maximum(x, 0)),
    ("sigmoid", lambda x: 1 / (1 + np.exp(-x))),
    ("tanh", np.tanh),
    ("leaky_relu", lambda x: np.where(x > 0, x, 0.2 * x)),
    ("elu", lambda x: np.where(x > 0, x, np.exp(x) - 1)),
])
def test_elementwise_activations_by_formula(name, formula):
    x = np.linspace(-4, 4, 24).reshape(2, 3, 4)
    np.testing.assert_allclose(Activation(name, dtype="float64")(x), formula(x), rtol=1e-12, atol=1e-15)


def test_sigmoid_and_softmax_do_not_overflow():
    x = np.array([[-1000.0, 0.0, 1000.0]])
    assert np.all(np.isfinite(Activation("sigmoid")(x)))
    np.testing.assert_allclose(Activation("softmax", dtype="float64")(x), [[0, 0, 1]], atol=1e-300)


def test_dropout_is_the_identity_at_inference():
    x = np.random.default_rng(4).standard_normal((8, 5, 5, 3)).astype(np.float32)
    layer = Dropout(0.5)
    np.testing.assert_array_equal(layer(x), x)
    np.testing.assert_array_equal(layer(x, training=False), x)
    np.testing.assert_array_equal(backward_public(layer, x), x)


def test_dropout_training_is_inverted_and_keeps_the_mean():
    x = np.ones((200, 50, 10), np.float64)
    y = Dropout(0.3, seed=0, dtype="float64")(x, training=True)
    dropped = y == 0
    assert abs(dropped.mean() - 0.3) < 0.01
    np.testing.assert_allclose(y[~dropped], 1 / 0.7, rtol=1e-12)  # kept units scaled by 1 / (1 - rate)
    assert abs(y.mean() - 1.0) < 0.02
    np.testing.assert_array_equal(Dropout(0.0, dtype="float64")(x, training=True), x)


def test_dropout_seed_makes_the_mask_reproducible():
    x = np.ones((4, 30), np.float32)
    a = Dropout(0.5, seed=7)(x, training=True)
    b = Dropout(0.5, seed=7)(x, training=True)
    c = Dropout(0.5, seed=8)(x, training=True)
    np.testing.assert_array_equal(a, b)
    assert not np.array_equal(a, c)


def test_flatten_is_row_major_over_height_width_channels():
    x = np.random.default_rng(5).standard_normal((3, 4, 5, 2)).astype(np.float32)
    layer = Flatten()
    y = layer(x)
    np.testing.assert_array_equal(y, x.reshape(3, -1))
    assert layer.output_shape == (None, 40)
    dy = np.random.default_rng(6).standard_normal(y.shape).astype(np.float32)
    np.testing.assert_array_equal(backward_public(layer, dy), dy.reshape(x.shape))


def test_flatten_then_dense_matches_numpy():
    rng = np.random.default_rng(7)
    x = rng.standard_normal((2, 3, 3, 4))
    flat, dense = Flatten(dtype="float64"), Dense(5, dtype="float64")
    dense.build((None, 36))
    kernel, bias = rng.standard_normal((36, 5)), rng.standard_normal(5)
    dense.set_weights([kernel, bias])
    np.testing.assert_allclose(dense(flat(x)), x.reshape(2, -1) @ kernel + bias, rtol=1e-12)


# --- get_config / from_config / repr -------------------------------------------------------------

ROUND_TRIP = [
    (lambda: Conv2D(4, (3, 2), strides=(2, 1), padding=((1, 0), (2, 1)), dilation_rate=(1, 2),
                    activation="tanh", kernel_initializer="he_uniform", bias_initializer="ones"), (2, 7, 8, 3)),
    (lambda: Conv2D(3, 3, padding="same", use_bias=False, activation="softmax"), (2, 5, 5, 2)),
    (lambda: MaxPooling2D((3, 2), strides=(1, 2), padding="same"), (2, 6, 7, 3)),
    (lambda: AveragePooling2D(3, strides=2, padding=1), (2, 7, 7, 3)),
    (lambda: Dense(6, activation="elu", use_bias=True), (3, 5)),
    (lambda: Activation("leaky_relu"), (2, 4)),
    (lambda: Flatten(), (2, 3, 3, 2)),
    (lambda: Dropout(0.25, seed=3), (2, 6)),
]


@pytest.mark.parametrize("make, shape", ROUND_TRIP)
def test_config_round_trip_gives_the_same_layer_and_outputs(make, shape):
    rng = np.random.default_rng(8)
    layer = make()
    x = rng.standard_normal(shape).astype(np.float32)
    y = layer(x)
    config = json.loads(json.dumps(layer.get_config()))  # configs are plain JSON, as in Keras
    clone = type(layer).from_config(config)
    assert clone.get_config() == layer.get_config()
    assert repr(clone) == repr(layer)
    clone(x)
    clone.set_weights(layer.get_weights())
    np.testing.assert_array_equal(clone(x), y)


def test_seeded_initialiser_survives_the_config_round_trip():
    layer = Dense(4, kernel_initializer=initializers.HeNormal(seed=5))
    layer(np.zeros((1, 3)))
    clone = Dense.from_config(json.loads(json.dumps(layer.get_config())))
    clone(np.zeros((1, 3)))
    np.testing.assert_array_equal(clone.get_weights()[0], layer.get_weights()[0])


def test_input_layer_config_round_trip():
    layer = Input(shape=(28, 28, 1))
    clone = type(layer).from_config(json.loads(json.dumps(layer.get_config())))
    assert clone.declared_input_shape == (None, 28, 28, 1)


def test_repr_shows_only_non_default_arguments():
    assert repr(Conv2D(32, 3)) == "Conv2D(filters=32, kernel_size=(3, 3))"
    text = repr(Conv2D(8, 5, strides=2, padding="same", activation="relu"))
    for shown in ("filters=8", "kernel_size=(5, 5)", "strides=(2, 2)", "padding='same'", "activation='relu'"):
        assert shown in text
    for hidden in ("use_bias", "dilation_rate", "kernel_initializer", "data_format"):
        assert hidden not in text
    assert repr(MaxPooling2D()) == "MaxPooling2D()"
    assert "padding='same'" in repr(AveragePooling2D(padding="same"))
    assert repr(Dense(10)) == "Dense(units=10)"
    assert "use_bias=False" in repr(Dense(10, use_bias=False))
    assert repr(Dropout(0.5)) == "Dropout(rate=0.5)"


def test_the_article_keras_code_runs_unchanged():
    """S10: the article's layer calls, with only the import changed."""
    conv = Conv2D(6, kernel_size=(3, 3), padding="valid", activation='relu', strides=1, input_shape=(32, 32, 3))
    assert conv.declared_input_shape == (None, 32, 32, 3)
    assert conv(np.zeros((1, 32, 32, 3))).shape == (1, 30, 30, 6)


# --- initialisers, with Keras's fan rules --------------------------------------------------------

def truncated_normal_std(cut=2.0):
    """Standard deviation of a standard normal truncated to [-cut, cut] (closed form)."""
    pdf = math.exp(-cut * cut / 2) / math.sqrt(2 * math.pi)
    mass = math.erf(cut / math.sqrt(2))
    return math.sqrt(1 - 2 * cut * pdf / mass)


CONV_SHAPE, DENSE_SHAPE = (5, 5, 64, 96), (800, 300)


@pytest.mark.parametrize("shape", [CONV_SHAPE, DENSE_SHAPE], ids=["conv", "dense"])
@pytest.mark.parametrize("name", ["glorot_uniform", "he_uniform"])
def test_uniform_initialisers_use_keras_fans(name, shape):
    receptive = math.prod(shape[:-2])
    fan_in, fan_out = shape[-2] * receptive, shape[-1] * receptive  # Keras: fan_in = kh * kw * in
    limit = math.sqrt(6 / (fan_in + fan_out)) if name == "glorot_uniform" else math.sqrt(6 / fan_in)
    w = initializers.get(name)(shape)
    assert w.shape == shape and w.dtype == np.float32
    assert np.abs(w).max() <= limit * (1 + 1e-6)
    assert np.abs(w).max() > 0.999 * limit
    assert abs(w.std() - limit / math.sqrt(3)) < 0.01 * limit
    assert abs(w.mean()) < 0.01 * limit


@pytest.mark.parametrize("shape", [CONV_SHAPE, DENSE_SHAPE], ids=["conv", "dense"])
def test_he_normal_is_truncated_with_std_sqrt_2_over_fan_in(shape):
    fan_in = math.prod(shape[:-1])
    std = math.sqrt(2 / fan_in)
    w = initializers.get("he_normal")(shape).astype(np.float64)
    assert abs(w.std() - std) < 0.01 * std
    bound = 2 * std / truncated_normal_std(2.0)  # cut at two standard deviations of the untruncated normal
    assert np.abs(w).max() <= bound * (1 + 1e-6)
    assert np.abs(w).max() > 0.99 * bound


def test_initialisers_through_the_layers():
    conv = Conv2D(96, 5, kernel_initializer="he_uniform", bias_initializer="ones")
    conv.build((None, 8, 8, 64))
    limit = math.sqrt(6 / (5 * 5 * 64))
    kernel, bias = conv.get_weights()
    assert np.abs(kernel).max() <= limit * (1 + 1e-6) and np.abs(kernel).max() > 0.999 * limit
    np.testing.assert_array_equal(bias, np.ones(96))
    dense = Dense(300, kernel_initializer="zeros")
    dense.build((None, 800))
    np.testing.assert_array_equal(dense.get_weights()[0], 0)
    np.testing.assert_array_equal(dense.get_weights()[1], 0)  # bias_initializer defaults to zeros
    default = Conv2D(96, 5)
    default.build((None, 8, 8, 64))  # glorot_uniform by default
    limit = math.sqrt(6 / (5 * 5 * 64 + 5 * 5 * 96))
    assert np.abs(default.get_weights()[0]).max() <= limit * (1 + 1e-6)
    assert np.abs(default.get_weights()[0]).max() > 0.999 * limit


def test_initialiser_seed_is_reproducible_and_names_are_case_insensitive():
    a = initializers.get({"class_name": "GlorotUniform", "config": {"seed": 1}})((4, 4))
    b = initializers.GlorotUniform(seed=1)((4, 4))
    np.testing.assert_array_equal(a, b)
    np.testing.assert_array_equal(initializers.get("Ones")((2, 3)), np.ones((2, 3)))
