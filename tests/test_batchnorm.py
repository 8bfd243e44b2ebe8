"""BatchNormalization: held to PyTorch's BatchNorm2d/BatchNorm1d (momentum 0.01 there is Keras's 0.99 here) in
training and inference mode, forward and gradients, on both backends; to central differences in float64; its
moving statistics to Keras's rule (the biased batch variance: PyTorch keeps the unbiased one, so its running
variance is corrected by (n - 1) / n); trainable=False, fit, and threads that predict while another trains."""
import threading

import numpy as np
import pytest
from test_ops_gradcheck import assert_grad_close, numeric_grad

from clearcnn import ClearCNNError
from clearcnn.layers import BatchNormalization, Conv2D, Dense, Flatten
from clearcnn.models import Sequential
from clearcnn.ops import swap_batch_axis

torch = pytest.importorskip("torch")

TOL = 1e-5
EPSILON = 1e-3
# (public input shape, center, scale): after a conv (4-D) and after a dense layer (2-D)
CASES = [((6, 5, 4, 3), True, True), ((5, 7, 6, 2), False, True), ((4, 3, 3, 5), True, False),
         ((16, 6), True, True), ((9, 4), False, False)]


def case_id(case):
    shape, center, scale = case
    return f"{'x'.join(map(str, shape))}-center{int(center)}-scale{int(scale)}"


def torch_layer(channels, rank, center, scale, rng):
    """PyTorch's batch norm with affine weights drawn from rng (or fixed at 1 and 0 where Keras has none)."""
    module = (torch.nn.BatchNorm2d if rank == 4 else torch.nn.BatchNorm1d)(channels, eps=EPSILON, momentum=0.01)
    with torch.no_grad():
        module.weight.copy_(torch.from_numpy(rng.uniform(0.5, 1.5, channels) if scale else np.ones(channels)))
        module.bias.copy_(torch.from_numpy(rng.standard_normal(channels) if center else np.zeros(channels)))
    return module.double()


def to_torch(x):
    """Public (N, H, W, C) or (N, F) to PyTorch's (N, C, H, W) or (N, F)."""
    return torch.from_numpy(np.ascontiguousarray(np.moveaxis(x, -1, 1) if x.ndim == 4 else x))


def from_torch(t):
    a = t.detach().numpy()
    return np.moveaxis(a, 1, -1) if a.ndim == 4 else a


def built(shape, center, scale, module, dtype="float32"):
    """A clearcnn layer with the PyTorch module's gamma and beta."""
    layer = BatchNormalization(center=center, scale=scale, dtype=dtype)
    layer.build((None, *shape[1:]))
    arrays = ([module.weight.detach().numpy()] if scale else []) + ([module.bias.detach().numpy()] if center else [])
    layer.set_weights(arrays + [w.numpy() for w in layer.weights[len(arrays):]])
    return layer


def run(layer, x, dy, training):
    """Forward, backward and the state update on the internal layout; the public y and dx, and the gradients."""
    y = layer.forward(swap_batch_axis(x), training)
    dx = layer.backward(swap_batch_axis(dy))
    layer.apply_state_updates()
    grads = {name: getattr(layer, name).grad for name in ("gamma", "beta") if getattr(layer, name) is not None}
    return swap_batch_axis(y), swap_batch_axis(dx), grads


def compare(actual, expected, what):
    np.testing.assert_allclose(actual, expected, rtol=TOL, atol=TOL, err_msg=what)


@pytest.mark.usefixtures("engine_backend")
@pytest.mark.parametrize("case", CASES, ids=case_id)
def test_training_mode_matches_torch_forward_gradients_and_moving_statistics(case):
    shape, center, scale = case
    rng = np.random.default_rng(len(shape) * 10 + shape[-1])
    module = torch_layer(shape[-1], len(shape), center, scale, rng).train()
    layer = built(shape, center, scale, module)
    n = np.prod(shape[:-1])  # numbers per channel in one batch
    for step in range(3):  # three steps: the moving statistics compound
        x = (rng.standard_normal(shape) * rng.uniform(0.5, 3, shape[-1]) + rng.uniform(-2, 2, shape[-1]))
        x = x.astype(np.float32)
        dy = rng.standard_normal(shape).astype(np.float32)
        y, dx, grads = run(layer, x, dy, training=True)
        xt = to_torch(x.astype(np.float64)).requires_grad_(True)
        yt = module(xt)
        yt.backward(to_torch(dy.astype(np.float64)))
        compare(y, from_torch(yt), f"y, step {step}")
        compare(dx, from_torch(xt.grad), f"dx, step {step}")
        if scale:
            compare(grads["gamma"], module.weight.grad.numpy(), "dgamma")
        if center:
            compare(grads["beta"], module.bias.grad.numpy(), "dbeta")
        module.zero_grad()
        # Both start at 1 and add 1% of a batch variance per step, PyTorch's n / (n - 1) times larger than Keras's.
        decay = 0.99 ** (step + 1)
        moving_mean, moving_variance = (w.numpy() for w in layer.weights[-2:])
        compare(moving_mean, module.running_mean.numpy(), f"moving_mean, step {step}")
        compare(moving_variance, decay + (module.running_var.numpy() - decay) * (n - 1) / n,
                f"moving_variance, step {step}")


@pytest.mark.usefixtures("engine_backend")
@pytest.mark.parametrize("case", CASES, ids=case_id)
def test_inference_mode_matches_torch_eval_and_leaves_the_statistics_alone(case):
    shape, center, scale = case
    rng = np.random.default_rng(7 + shape[-1])
    module = torch_layer(shape[-1], len(shape), center, scale, rng).eval()
    with torch.no_grad():
        module.running_mean.copy_(torch.from_numpy(rng.standard_normal(shape[-1])))
        module.running_var.copy_(torch.from_numpy(rng.uniform(0.2, 3, shape[-1])))
    layer = built(shape, center, scale, module)
    stats = [module.running_mean.numpy().astype(np.float32), module.running_var.numpy().astype(np.float32)]
    layer.set_weights(layer.get_weights()[:-2] + stats)
    x = (rng.standard_normal(shape) * 2).astype(np.float32)
    dy = rng.standard_normal(shape).astype(np.float32)
    y, dx, grads = run(layer, x, dy, training=False)
    xt = to_torch(x.astype(np.float64)).requires_grad_(True)
    yt = module(xt)
    yt.backward(to_torch(dy.astype(np.float64)))
    compare(y, from_torch(yt), "y")
    compare(dx, from_torch(xt.grad), "dx")
    if scale:
        compare(grads["gamma"], module.weight.grad.numpy(), "dgamma")
    if center:
        compare(grads["beta"], module.bias.grad.numpy(), "dbeta")
    for weight, expected in zip(layer.weights[-2:], stats):
        np.testing.assert_array_equal(weight.value, expected)


@pytest.mark.usefixtures("engine_backend")
@pytest.mark.parametrize("training", [True, False], ids=["training", "inference"])
@pytest.mark.parametrize("shape", [(3, 4, 3, 2), (5, 3)], ids=["4d", "2d"])
def test_central_differences(shape, training):
    rng = np.random.default_rng(11)
    layer = BatchNormalization(dtype="float64")
    layer.build((None, *shape[1:]))
    channels = shape[-1]
    layer.set_weights([rng.uniform(0.5, 1.5, channels), rng.standard_normal(channels), rng.standard_normal(channels),
                       rng.uniform(0.5, 2, channels)])
    x = swap_batch_axis(rng.standard_normal(shape) * 1.5 + 0.3)
    r = rng.standard_normal(x.shape)
    layer.forward(x, training)
    dx = layer.backward(r.copy())
    analytic = [layer.gamma.grad.copy(), layer.beta.grad.copy()]

    def loss():
        return float(np.sum(layer.forward(x, training) * r))

    assert_grad_close(dx, numeric_grad(loss, x), "input")
    for weight, grad in zip(layer.weights[:2], analytic):
        assert_grad_close(grad, numeric_grad(loss, weight.value), weight.name)


def test_weights_are_keras_order_and_the_moving_statistics_are_not_trainable():
    layer = BatchNormalization(name="bn")
    layer.build((None, 5, 5, 3))
    assert [w.name for w in layer.weights] == ["bn/gamma", "bn/beta", "bn/moving_mean", "bn/moving_variance"]
    assert [w.name for w in layer.trainable_weights] == ["bn/gamma", "bn/beta"]
    assert [w.name for w in layer.non_trainable_weights] == ["bn/moving_mean", "bn/moving_variance"]
    np.testing.assert_array_equal(np.stack(layer.get_weights()), [[1, 1, 1], [0, 0, 0], [0, 0, 0], [1, 1, 1]])
    for center, scale, names in ((False, True, ["gamma"]), (True, False, ["beta"]), (False, False, [])):
        other = BatchNormalization(center=center, scale=scale, name="o")
        other.build((None, 4))
        assert [w.name for w in other.weights] == [f"o/{n}" for n in names + ["moving_mean", "moving_variance"]]


def test_initializers_are_used_and_configs_round_trip():
    layer = BatchNormalization(momentum=0.9, epsilon=0.01, gamma_initializer="zeros", beta_initializer="ones",
                               moving_mean_initializer="ones", moving_variance_initializer="zeros")
    layer.build((None, 2))
    np.testing.assert_array_equal(np.stack(layer.get_weights()), [[0, 0], [1, 1], [1, 1], [0, 0]])
    config = layer.get_config()
    assert {k: config[k] for k in ("axis", "momentum", "epsilon", "center", "scale")} == {
        "axis": -1, "momentum": 0.9, "epsilon": 0.01, "center": True, "scale": True}
    again = BatchNormalization.from_config(config)
    assert again.get_config() == config


def fitted_pair(trainable):
    """A model Dense -> BN, fitted one batch of SGD: (model, x, the BN layer's weights before and after)."""
    rng = np.random.default_rng(5)
    model = Sequential([Dense(4, input_shape=(3,), name="d"), BatchNormalization(name="bn", trainable=trainable)])
    model.compile("sgd", "mse")
    x = rng.standard_normal((8, 3)).astype(np.float32)
    before = model.get_layer("bn").get_weights()
    hidden = x @ model.get_layer("d").kernel.value + model.get_layer("d").bias.value
    model.fit(x, rng.standard_normal((8, 4)), batch_size=8, epochs=1, verbose=0, shuffle=False)
    return model, hidden, before, model.get_layer("bn").get_weights()


def test_fit_moves_the_statistics_by_keras_rule_and_the_optimizer_leaves_them():
    model, hidden, before, after = fitted_pair(trainable=True)
    compare(after[2], 0.99 * before[2] + 0.01 * hidden.mean(0), "moving_mean")
    compare(after[3], 0.99 * before[3] + 0.01 * hidden.var(0), "moving_variance (biased)")
    assert not np.array_equal(after[0], before[0])  # gamma was trained
    assert len(model.trainable_weights) == 4 and len(model.non_trainable_weights) == 2


def test_trainable_false_runs_in_inference_mode_and_freezes_everything():
    model, hidden, before, after = fitted_pair(trainable=False)
    for b, a in zip(before, after):
        np.testing.assert_array_equal(a, b)
    layer = model.get_layer("bn")
    x = swap_batch_axis(hidden.astype(np.float32))
    np.testing.assert_array_equal(layer.forward(x, training=True), layer.forward(x, training=False))
    assert len(model.trainable_weights) == 2 and len(model.non_trainable_weights) == 4


def test_predict_evaluate_and_inference_calls_never_change_the_statistics():
    rng = np.random.default_rng(2)
    model = Sequential([Conv2D(3, 3, input_shape=(6, 6, 2)), BatchNormalization(), Flatten(), Dense(2)])
    model.compile("adam", "mse")
    x, y = rng.standard_normal((4, 6, 6, 2)), rng.standard_normal((4, 2))
    model.fit(x, y, verbose=0)
    stats = [w.value for w in model.non_trainable_weights]
    copies = [s.copy() for s in stats]
    model.predict(x, verbose=0)
    model.evaluate(x, y, verbose=0)
    model(x)
    model.get_layer(index=1)(rng.standard_normal((2, 4, 4, 3)))
    for array, now, copy in zip(stats, model.non_trainable_weights, copies):
        assert now.value is array
        np.testing.assert_array_equal(array, copy)
    model(x, training=True)  # as Keras: a training-mode call moves them
    assert not np.array_equal(model.non_trainable_weights[0].value, copies[0])


def test_a_nan_loss_changes_no_moving_statistic():
    model = Sequential([Dense(2, input_shape=(3,)), BatchNormalization()])
    model.compile("sgd", "mse")
    before = model.get_weights()
    with pytest.raises(ClearCNNError, match="loss became nan"):
        model.train_on_batch(np.array([[1.0, np.nan, 0.0], [0.0, 1.0, 2.0]]), np.zeros((2, 2)))
    for a, b in zip(model.get_weights(), before):
        np.testing.assert_array_equal(a, b)


def test_threads_predicting_while_another_trains_see_one_consistent_pair_of_statistics():
    """Normalisation only (no gamma, no beta): every prediction made while another thread trains must equal the
    normalisation by one of the pairs of moving statistics the training went through, never a mix."""
    rng = np.random.default_rng(9)
    model = Sequential([BatchNormalization(center=False, scale=False, momentum=0.5, input_shape=(4,))])
    model.compile("sgd", "mse")
    layer = model.layers[0]
    probe = rng.standard_normal((3, 4)).astype(np.float32)
    pairs, seen, done = [layer.statistics()], [], threading.Event()

    def predict():
        while not done.is_set():
            seen.append(model.predict(probe, verbose=0))

    thread = threading.Thread(target=predict)
    thread.start()
    try:
        for step in range(40):
            model.train_on_batch(rng.standard_normal((6, 4)) * (1 + step % 5) + step % 3, np.zeros((6, 4)))
            pairs.append(layer.statistics())
    finally:
        done.set()
        thread.join()
    assert seen
    candidates = [(probe - m) / np.sqrt(v + np.float32(EPSILON)) for m, v in pairs]
    for output in seen:
        assert any(np.allclose(output, c, rtol=1e-6, atol=1e-6) for c in candidates)


BAD_ARGUMENTS = [("axis", 1.5), ("axis", [3]), ("momentum", 1.5), ("momentum", "high"), ("epsilon", 0),
                 ("epsilon", -1e-3), ("center", "yes"), ("scale", None), ("beta_initializer", "bogus"),
                 ("gamma_initializer", 3), ("moving_mean_initializer", "nope"),
                 ("moving_variance_initializer", "nope"), ("beta_regularizer", "l7"), ("gamma_regularizer", 0.1),
                 ("beta_constraint", "positive"), ("gamma_constraint", 3), ("renorm", True),
                 ("renorm_clipping", {"rmax": 3}), ("renorm_momentum", 2), ("synchronized", True), ("dtype", "int8"),
                 ("trainable", "no"), ("name", "a/b"), ("input_shape", (0, 3)), ("fused", True)]


@pytest.mark.parametrize("argument, value", BAD_ARGUMENTS, ids=[f"{a}={v!r}" for a, v in BAD_ARGUMENTS])
def test_every_bad_argument_is_named(argument, value):
    with pytest.raises(ClearCNNError, match=f"`{argument}`"):
        BatchNormalization(**{argument: value})


@pytest.mark.parametrize("axis, shape", [(1, (None, 5, 5, 3)), (-2, (None, 4, 3)), (0, (None, 3))])
def test_an_axis_other_than_the_channels_is_named_when_built(axis, shape):
    with pytest.raises(ClearCNNError, match="`axis`.*last"):
        Sequential([BatchNormalization(axis=axis, input_shape=shape[1:])])
    Sequential([BatchNormalization(axis=len(shape) - 1, input_shape=shape[1:])])  # the last axis, counted


def test_a_wrong_channel_count_or_rank_is_refused():
    layer = BatchNormalization(name="bn")
    layer(np.zeros((2, 4, 4, 3)))
    layer(np.zeros((2, 7, 5, 3)))  # other image sizes are fine
    with pytest.raises(ClearCNNError, match="3 channels"):
        layer(np.zeros((2, 4, 4, 2)))
    with pytest.raises(ClearCNNError, match="4-D"):
        layer(np.zeros((2, 3)))
    with pytest.raises(ClearCNNError, match="batch axis"):
        BatchNormalization().build((None,))


def test_native_files_keep_the_statistics_and_the_new_layers(tmp_path):
    from clearcnn.layers import GlobalAveragePooling2D, GlobalMaxPooling2D
    from clearcnn.models import load_model
    rng = np.random.default_rng(8)
    model = Sequential([Conv2D(4, 3, input_shape=(7, 7, 2)), BatchNormalization(momentum=0.5, epsilon=0.01),
                        GlobalMaxPooling2D(keepdims=True), GlobalAveragePooling2D(), Dense(3),
                        BatchNormalization(center=False)])
    model.compile("adam", "mse")
    x = rng.standard_normal((8, 7, 7, 2)) + 1
    model.fit(x, rng.standard_normal((8, 3)), batch_size=4, verbose=0)
    model.save(tmp_path / "m.clearcnn")
    model.save_weights(tmp_path / "w.npz")
    loaded = load_model(tmp_path / "m.clearcnn")
    assert [layer.get_config() for layer in loaded.layers] == [layer.get_config() for layer in model.layers]
    for a, b in zip(loaded.get_weights(), model.get_weights(), strict=True):
        np.testing.assert_array_equal(a, b)
    np.testing.assert_array_equal(loaded.predict(x, verbose=0), model.predict(x, verbose=0))
    fresh = Sequential.from_config(model.get_config())
    fresh.load_weights(tmp_path / "w.npz")
    np.testing.assert_array_equal(fresh.predict(x, verbose=0), model.predict(x, verbose=0))


@pytest.mark.parametrize("center, scale", [(True, True), (False, True), (True, False), (False, False)])
def test_explain_writes_the_normalisation_with_its_numbers(center, scale):
    from clearcnn.explain import explain
    model = Sequential([Conv2D(2, 1, input_shape=(2, 2, 1), kernel_initializer="ones", name="c"),
                        BatchNormalization(center=center, scale=scale, epsilon=0.01, name="bn"), Flatten(),
                        BatchNormalization(name="bn2")])
    bn = model.get_layer("bn")
    bn.set_weights([np.array([2.0, 0.5])] * scale + [np.array([1.0, -1.0])] * center + [np.array([0.5, 1.0]),
                                                                                         np.array([3.99, 0.24])])
    image = np.array([[[4.5], [1.0]], [[2.0], [3.0]]])
    text = explain(model, image, "bn", 0, 0, 0).text
    assert "mean = 0.5, variance = 3.99" in text
    assert "x - mean = 4.5 - 0.5 = 4" in text and "sqrt(3.99 + 0.01) = 2" in text and "4 / 2 = 2" in text
    expected = 2 * (2.0 if scale else 1) + (1.0 if center else 0)
    assert text.endswith(f"result = {expected:g}")
    for layer, (row, col, index) in (("bn", (1, 1, 1)), ("bn2", (0, 0, 5))):
        outputs = dict((l.name, o[0]) for l, o in model.layer_outputs(image[None]))
        value = outputs[layer][index] if layer == "bn2" else outputs[layer][row, col, index]
        assert explain(model, image, layer, row, col, index).value == pytest.approx(float(value), rel=1e-6)


@pytest.mark.parametrize("shape", [(16, 7, 5, 6), (40, 9), (3, 4, 4, 2)], ids=str)
@pytest.mark.parametrize("affine", [True, False])
def test_the_compiled_kernels_give_the_reference_numbers(monkeypatch, shape, affine):
    """The fast backend's compiled kernels (inside the engine's threads) against the reference's NumPy, forward
    and backward, in both modes."""
    from clearcnn import ops
    from clearcnn.ops.fast import compiled
    from clearcnn.ops.fast import normalization as fast
    from clearcnn.ops.reference import normalization as reference
    monkeypatch.setattr(compiled, "MIN_BATCH", 1)
    if compiled.kernels() is None:
        pytest.skip("the compiled kernels need Numba")
    rng = np.random.default_rng(shape[0])
    channels = shape[-1]
    x = swap_batch_axis((rng.standard_normal(shape) * 3 + 1).astype(np.float32))
    dy = swap_batch_axis(rng.standard_normal(shape).astype(np.float32))
    gamma = rng.uniform(0.5, 2, channels).astype(np.float32) if affine else None
    beta = rng.standard_normal(channels).astype(np.float32) if affine else None
    moving = (rng.standard_normal(channels).astype(np.float32), rng.uniform(0.5, 2, channels).astype(np.float32))
    before = ops.get_backend()
    ops.set_backend("fast")
    try:
        for statistics in (None, moving):
            with ops.batch_scope(shape[0]):
                y, used, cache = fast.batch_norm_forward(x, gamma, beta, 1e-3, statistics)
                grads = fast.batch_norm_backward(dy, cache)
            y_ref, used_ref, cache_ref = reference.batch_norm_forward(x, gamma, beta, 1e-3, statistics)
            for a, b in zip((y, *used, *grads), (y_ref, *used_ref, *reference.batch_norm_backward(dy, cache_ref))):
                assert a.dtype == np.float32 and a.shape == b.shape
                np.testing.assert_allclose(a, b, rtol=2e-5, atol=2e-5)
            assert fast.batch_norm_backward(dy, cache, input_grad=False)[0] is None
    finally:
        ops.set_backend(before)


def test_summary_counts_the_moving_statistics_as_non_trainable():
    from clearcnn.layers import GlobalAveragePooling2D
    model = Sequential([Conv2D(4, 3, input_shape=(8, 8, 3)), BatchNormalization(), GlobalAveragePooling2D(), Dense(5),
                        BatchNormalization(scale=False)])
    lines = []
    model.summary(print_fn=lines.append)
    text = "\n".join(lines)
    # conv 3*3*3*4 + 4 = 112; BN 4 x 4; dense 4*5 + 5 = 25; BN 3 x 5 (no gamma): 8 + 10 moving statistics
    assert "Total params: 168" in text and "Trainable params: 150" in text and "Non-trainable params: 18" in text
    assert "(None, 6, 6, 4)" in text and "│            16 │" in text and "│            15 │" in text
