"""Sequential: the article's Keras code, summary, training against NumPy worked by hand, the loops' Keras
semantics (history, evaluate forms, batching), determinism, NaN stops and user mistakes, and a CNN that learns
the embedded MNIST-10k digits to 97%."""
import weakref

import numpy as np
import pytest

from clearcnn import ClearCNNError
from clearcnn.callbacks import LambdaCallback
from clearcnn.datasets import load_mnist10k
from clearcnn.layers import BatchNormalization, Conv2D, Dense, Dropout, Flatten, Input, MaxPooling2D, Rescaling
from clearcnn.models import Sequential
from clearcnn.optimizers import SGD, Adam
from clearcnn.utils import set_random_seed


def softmax(z):
    e = np.exp(z - z.max(axis=1, keepdims=True))
    return e / e.sum(axis=1, keepdims=True)


def hand_crossentropy(x, y, kernel, bias):
    """Per-sample -log softmax(x W + b)[y], computed here without clearcnn."""
    p = softmax(x.astype(np.float64) @ kernel.astype(np.float64) + bias.astype(np.float64))
    return -np.log(np.clip(p[np.arange(len(y)), y], 1e-7, 1 - 1e-7))


def article_model_add_form():
    """The article's code, only the imports changed."""
    model = Sequential()
    model.add(Conv2D(6, kernel_size=(3, 3), padding="valid", activation='relu', strides=1, input_shape=(32, 32, 3)))
    model.add(MaxPooling2D(pool_size=(3, 3), strides=1))
    model.add(Conv2D(16, kernel_size=(5, 5), padding="valid", activation='relu', strides=1))
    model.add(MaxPooling2D(pool_size=(3, 3), strides=1))
    model.add(Flatten())
    model.add(Dense(120, activation='relu'))
    model.add(Dense(3, activation='softmax'))
    return model


def article_model_list_form():
    return Sequential([
        Conv2D(6, kernel_size=(3, 3), padding="valid", activation='relu', strides=1, input_shape=(32, 32, 3)),
        MaxPooling2D(pool_size=(3, 3), strides=1),
        Conv2D(16, kernel_size=(5, 5), padding="valid", activation='relu', strides=1),
        MaxPooling2D(pool_size=(3, 3), strides=1),
        Flatten(),
        Dense(120, activation='relu'),
        Dense(3, activation='softmax'),
    ])


def small_classifier(inputs=5, classes=3, **dense):
    return Sequential([Dense(classes, activation="softmax", input_shape=(inputs,), **dense)])


def data(n=10, inputs=5, classes=3, seed=0):
    rng = np.random.default_rng(seed)
    return rng.normal(size=(n, inputs)).astype("float32"), rng.integers(0, classes, size=n)


# --- the article (S8, S10) ----------------------------------------------------------------------

@pytest.mark.parametrize("form, loss", [(article_model_add_form, "categorical_crossentropy"),
                                        (article_model_list_form, "sparse_categorical_crossentropy")])
def test_article_network_compiles_fits_and_predicts(form, loss):
    set_random_seed(0)
    model = form()
    rng = np.random.default_rng(0)
    x = rng.uniform(size=(9, 32, 32, 3)).astype("float32")
    labels = np.array([0, 1, 2] * 3)
    y = np.eye(3)[labels] if loss == "categorical_crossentropy" else labels
    model.compile(optimizer="adam", loss=loss, metrics=["accuracy"])
    before = model.get_weights()
    history = model.fit(x, y, batch_size=4, epochs=2, verbose=0)
    assert len(history.history["loss"]) == 2 and all(np.isfinite(history.history["loss"]))
    assert all(not np.array_equal(a, b) for a, b in zip(before, model.get_weights()))
    probabilities = model.predict(x[:5], verbose=0)
    assert probabilities.shape == (5, 3)
    np.testing.assert_allclose(probabilities.sum(axis=1), 1.0, rtol=1e-5)
    assert model.output_shape == (None, 3)


def test_add_and_list_forms_build_the_same_network():
    set_random_seed(5)
    a = article_model_add_form()
    set_random_seed(5)
    b = article_model_list_form()
    assert [w.shape for w in a.weights] == [w.shape for w in b.weights]
    assert all(np.array_equal(u, v) for u, v in zip(a.get_weights(), b.get_weights()))
    x = np.random.default_rng(1).uniform(size=(2, 32, 32, 3)).astype("float32")
    assert np.array_equal(a.predict(x, verbose=0), b.predict(x, verbose=0))


# --- summary (S9, S5) -----------------------------------------------------------------------------

def summary_rows(model, **kwargs):
    lines = []
    model.summary(print_fn=lines.append, **kwargs)
    header = [[cell.strip() for cell in line.strip("┃").split("┃")] for line in lines if line.startswith("┃")]
    rows = [[cell.strip() for cell in line.strip("│").split("│")] for line in lines if line.startswith("│")]
    return lines, header + rows


def test_summary_of_the_article_network():
    lines, rows = summary_rows(article_model_add_form())
    # the correct shapes (the article forgot the +1) and 168 + 2,416 + 929,400 + 363 parameters
    expected = [("Conv2D", "(None, 30, 30, 6)", "168"), ("MaxPooling2D", "(None, 28, 28, 6)", "0"),
                ("Conv2D", "(None, 24, 24, 16)", "2,416"), ("MaxPooling2D", "(None, 22, 22, 16)", "0"),
                ("Flatten", "(None, 7744)", "0"), ("Dense", "(None, 120)", "929,400"),
                ("Dense", "(None, 3)", "363")]
    assert len(rows) == 1 + len(expected)
    assert rows[0] == ["Layer (type)", "Output Shape", "Param #"]
    for (kind, shape, params), row in zip(expected, rows[1:]):
        assert row[0].endswith(f"({kind})") and row[1] == shape and row[2] == params
    text = "\n".join(lines)
    assert "Total params: 932,347" in text
    assert "Trainable params: 932,347" in text and "Non-trainable params: 0" in text
    assert "Note" not in text  # every window fits here


def test_summary_notes_a_window_that_does_not_fit():
    model = Sequential([Conv2D(2, 3, strides=2, input_shape=(6, 6, 1)), Flatten(), Dense(2)])
    lines, rows = summary_rows(model)
    assert rows[1][1] == "(None, 2, 2, 2)"
    table_end = max(i for i, line in enumerate(lines) if line.startswith("└"))
    notes = [line for line in lines[table_end:] if "2.5" in line]
    assert notes, "a note with (6 - 3) / 2 + 1 = 2.5 is expected under the table"
    assert all(model.layers[0].name in note for note in notes)


def test_summary_counts_two_dimensional_kernels():
    # S6: 32 filters on an RGB input are 32 x 3 = 96 two-dimensional kernels
    _, rows = summary_rows(Sequential([Conv2D(32, 3, input_shape=(8, 8, 3))]), show_kernels=True)
    assert rows[0][3] and rows[1][3] == "96"


# --- one step against NumPy -----------------------------------------------------------------------

def test_train_on_batch_is_one_sgd_step_on_the_batch_mean():
    rng = np.random.default_rng(0)
    x, y = rng.normal(size=(6, 4)), rng.normal(size=(6, 2))
    model = Sequential([Dense(2, input_shape=(4,), dtype="float64")])
    model.compile(SGD(learning_rate=0.1), "mse")
    kernel, bias = model.get_weights()
    diff = x @ kernel + bias - y
    expected_loss = (diff ** 2).mean()
    d_pred = 2 * diff / diff.size  # d mean((pred - y)^2) / d pred
    loss = model.train_on_batch(x, y)
    assert loss == pytest.approx(expected_loss, rel=1e-12)
    np.testing.assert_allclose(model.layers[0].kernel.value, kernel - 0.1 * x.T @ d_pred, rtol=0, atol=1e-12)
    np.testing.assert_allclose(model.layers[0].bias.value, bias - 0.1 * d_pred.sum(0), rtol=0, atol=1e-12)


def test_backward_stops_at_the_first_layer_with_weights():
    """Layers before the first one with trainable weights have nothing to learn: no gradient goes through them,
    and that layer skips its input gradient. Every weight still gets the same gradient."""
    rng = np.random.default_rng(0)
    x, y = rng.normal(size=(4, 6, 6, 1)), rng.integers(0, 3, 4)

    def weight_gradients(model, x):
        model.compile(SGD(1e-3), "sparse_categorical_crossentropy")
        model.train_on_batch(x, y)
        return [w.grad for layer in model.layers for w in layer.trainable_weights]

    def head():
        return [Conv2D(2, 3, dtype="float64"), Flatten(), Dense(3, activation="softmax", dtype="float64")]

    set_random_seed(1)
    plain = Sequential([Input((6, 6, 1)), *head()])
    set_random_seed(1)
    rescaled = Sequential([Input((6, 6, 1)), Rescaling(2.0, dtype="float64"), *head()])
    rescaling, conv = rescaled.layers[0], rescaled.layers[1]
    calls = []
    rescaling.backward = lambda dy, input_grad=True: calls.append("rescaling")
    conv_backward = conv.backward
    conv.backward = lambda dy, input_grad=True: calls.append(input_grad) or conv_backward(dy, input_grad)
    got = weight_gradients(rescaled, x / 2)
    assert calls == [False]
    for a, b in zip(got, weight_gradients(plain, x), strict=True):
        np.testing.assert_allclose(a, b, rtol=1e-12, atol=1e-15)


def test_a_training_step_lets_go_of_every_array_its_forward_pass_made(engine_backend):
    """As in PyTorch, backward consumes what forward kept: once a step is done, no layer output of it is still
    alive (the caches that held them are dropped as backward passes each layer), and BatchNormalization's
    moving statistics still move, after the optimizer's step. A prediction keeps nothing at all."""
    x, y = np.random.default_rng(3).normal(size=(8, 9, 9, 2)), np.arange(8) % 3
    model = Sequential([Input((9, 9, 2)), Rescaling(0.5), Conv2D(4, 3, padding="same", activation="relu"),
                        BatchNormalization(), MaxPooling2D(), Conv2D(5, 3, padding="same"), Flatten(), Dropout(0.2),
                        Dense(3, activation="softmax")])
    model.compile(SGD(0.1), "sparse_categorical_crossentropy")
    outputs = []
    for layer in model.layers:
        layer.forward = lambda h, training=False, forward=layer.forward: \
            outputs.append(weakref.ref(out := forward(h, training))) or out
    moving_mean = model.layers[2].moving_mean.value.copy()
    model.train_on_batch(x, y)
    assert len(outputs) == len(model.layers)
    assert [ref() is None for ref in outputs] == [True] * len(outputs)
    assert not np.allclose(model.layers[2].moving_mean.value, moving_mean)
    outputs.clear()
    model.predict(x, verbose=0)  # inference keeps nothing for a backward pass
    assert len(outputs) == len(model.layers)
    assert [ref() is None for ref in outputs] == [True] * len(outputs)


def test_backward_without_its_forward_pass_is_a_clear_error():
    """Each forward pass serves one backward pass, as in PyTorch: a second backward, or one before any forward,
    says so instead of failing inside a layer."""
    x = np.random.default_rng(4).normal(size=(2, 6, 6, 1))
    model = Sequential([Input((6, 6, 1)), Conv2D(2, 3), Flatten(), Dense(3)])
    with pytest.raises(ClearCNNError, match="backward needs a training-mode forward pass"):
        model.backward(np.ones((2, 3), np.float32))
    model.predict(x, verbose=0)  # inference keeps nothing to go back through
    with pytest.raises(ClearCNNError, match="backward needs a training-mode forward pass"):
        model.backward(np.ones((2, 3), np.float32))
    y = model.call(model.check_input(x), training=True)
    model.backward(np.ones_like(y))
    first = [w.grad.copy() for w in model.trainable_weights]
    with pytest.raises(ClearCNNError, match="each forward pass serves one backward pass"):
        model.backward(np.ones_like(y))
    model.call(model.check_input(x), training=True)
    model.backward(np.ones_like(y))
    for again, once in zip([w.grad for w in model.trainable_weights], first, strict=True):
        np.testing.assert_array_equal(again, once)


def test_test_and_predict_on_batch_against_numpy():
    x, y = data()
    model = small_classifier()
    model.compile("sgd", "sparse_categorical_crossentropy", metrics=["accuracy"])
    kernel, bias = model.get_weights()
    probabilities = softmax(x.astype(np.float64) @ kernel + bias)
    np.testing.assert_allclose(model.predict_on_batch(x), probabilities, rtol=1e-5)
    loss, accuracy = model.test_on_batch(x, y)
    assert loss == pytest.approx(hand_crossentropy(x, y, kernel, bias).mean(), rel=1e-5)
    assert accuracy == pytest.approx(np.mean(probabilities.argmax(1) == y))
    assert np.array_equal(model.get_weights()[0], kernel)  # test_on_batch does not train
    logs = model.train_on_batch(x, y, return_dict=True)
    assert set(logs) == {"loss", "accuracy"} and logs["loss"] == pytest.approx(loss, rel=1e-6)


def test_predict_in_batches_equals_one_batch():
    x, _ = data(n=11)
    model = small_classifier()
    kernel, bias = model.get_weights()
    expected = softmax(x.astype(np.float64) @ kernel + bias)
    for batch_size in (1, 3, 4, 11, 32):
        np.testing.assert_allclose(model.predict(x, batch_size=batch_size, verbose=0), expected, rtol=1e-5)


# --- loops ----------------------------------------------------------------------------------------

def test_evaluate_return_forms():
    x, y = data()
    model = small_classifier()
    kernel, bias = model.get_weights()
    expected_loss = hand_crossentropy(x, y, kernel, bias).mean()
    expected_accuracy = np.mean((x @ kernel + bias).argmax(1) == y)

    model.compile("sgd", "sparse_categorical_crossentropy")
    value = model.evaluate(x, y, batch_size=3, verbose=0)
    assert isinstance(value, float) and value == pytest.approx(expected_loss, rel=1e-5)

    model.compile("sgd", "sparse_categorical_crossentropy", metrics=["accuracy"])
    loss, accuracy = model.evaluate(x, y, batch_size=3, verbose=0)
    assert loss == pytest.approx(expected_loss, rel=1e-5) and accuracy == pytest.approx(expected_accuracy)
    assert model.metrics_names == ["loss", "accuracy"]
    logs = model.evaluate(x, y, verbose=0, return_dict=True)
    assert logs == {"loss": pytest.approx(expected_loss, rel=1e-5), "accuracy": pytest.approx(expected_accuracy)}


def test_history_keys_and_lengths_match_keras():
    x, y = data(n=12)
    xv, yv = data(n=5, seed=1)
    model = small_classifier()
    model.compile("adam", "sparse_categorical_crossentropy", metrics=["accuracy"])
    history = model.fit(x, y, batch_size=5, epochs=3, validation_data=(xv, yv), verbose=0)
    assert set(history.history) == {"loss", "accuracy", "val_loss", "val_accuracy"}
    assert all(len(values) == 3 for values in history.history.values())
    assert history.epoch == [0, 1, 2]
    assert history.params["epochs"] == 3 and history.params["steps"] == 3
    # the last val_loss is the loss of the final weights on the validation data
    kernel, bias = model.get_weights()
    assert history.history["val_loss"][-1] == pytest.approx(hand_crossentropy(xv, yv, kernel, bias).mean(), rel=1e-5)

    model.compile("adam", "sparse_categorical_crossentropy")
    assert set(model.fit(x, y, epochs=2, verbose=0).history) == {"loss"}


def test_epoch_loss_is_the_sample_weighted_mean_of_the_batches():
    # Frozen weights: the epoch's loss must be the mean over all samples of the per-sample loss, which
    # differs from the plain mean of the batch means because the last batch (2 samples) is smaller.
    x, y = data(n=10)
    model = small_classifier()
    model.layers[0].trainable = False
    model.compile(SGD(learning_rate=1.0), "sparse_categorical_crossentropy")
    kernel, bias = model.get_weights()
    per_sample = hand_crossentropy(x, y, kernel, bias)
    batch_logs = []
    history = model.fit(x, y, batch_size=4, epochs=1, shuffle=False, verbose=0,
                        callbacks=[LambdaCallback(on_train_batch_end=lambda b, logs: batch_logs.append(logs["loss"]))])
    assert np.array_equal(model.get_weights()[0], kernel)
    assert history.history["loss"][0] == pytest.approx(per_sample.mean(), rel=1e-5)
    mean_of_batch_means = np.mean([per_sample[:4].mean(), per_sample[4:8].mean(), per_sample[8:].mean()])
    assert abs(per_sample.mean() - mean_of_batch_means) > 1e-3  # the test can tell the two apart
    # batch logs are running averages over the samples seen so far, as in Keras
    np.testing.assert_allclose(batch_logs, [per_sample[:4].mean(), per_sample[:8].mean(), per_sample.mean()],
                               rtol=1e-5)


def test_validation_split_takes_the_last_fraction_before_shuffling():
    x, y = data(n=20)
    model = small_classifier()
    model.layers[0].trainable = False
    model.compile("sgd", "sparse_categorical_crossentropy")
    kernel, bias = model.get_weights()
    history = model.fit(x, y, validation_split=0.25, batch_size=4, shuffle=True, verbose=0)
    assert history.history["loss"][0] == pytest.approx(hand_crossentropy(x[:15], y[:15], kernel, bias).mean(),
                                                       rel=1e-5)
    assert history.history["val_loss"][0] == pytest.approx(hand_crossentropy(x[15:], y[15:], kernel, bias).mean(),
                                                           rel=1e-5)


def test_set_random_seed_makes_runs_identical():
    x, y = data(n=24, inputs=6)

    def run(seed):
        set_random_seed(seed)
        model = Sequential([Dense(8, activation="relu", input_shape=(6,)), Dropout(0.5),
                            Dense(3, activation="softmax")])
        model.compile("adam", "sparse_categorical_crossentropy")
        model.fit(x, y, batch_size=5, epochs=2, shuffle=True, verbose=0)
        return model.get_weights()

    first, second, other = run(7), run(7), run(8)
    assert all(np.array_equal(a, b) for a, b in zip(first, second))
    assert not all(np.array_equal(a, b) for a, b in zip(first, other))


def test_dropout_is_active_in_fit_only():
    x, y = data(n=8, inputs=6)
    set_random_seed(0)
    model = Sequential([Dense(8, input_shape=(6,)), Dropout(0.5), Dense(3, activation="softmax")])
    model.compile("sgd", "sparse_categorical_crossentropy")
    assert np.array_equal(model.predict(x, verbose=0), model.predict(x, verbose=0))
    assert model.evaluate(x, y, verbose=0) == model.evaluate(x, y, verbose=0)


# --- NaN and inf stop training ------------------------------------------------------------------

def snapshots(model, store):
    return LambdaCallback(on_train_batch_end=lambda batch, logs: store.append(model.get_weights()))


@pytest.mark.filterwarnings("ignore::RuntimeWarning")  # overflow on the way to inf is expected
def test_inf_in_the_data_stops_with_epoch_and_batch_and_keeps_the_weights():
    x, y = data(n=12)
    x[5, 2] = np.inf  # in the second batch of 4
    model = small_classifier()
    model.compile(SGD(learning_rate=0.1), "sparse_categorical_crossentropy")
    saved = []
    with pytest.raises(ClearCNNError, match=r"epoch 1, batch 2"):
        model.fit(x, y, batch_size=4, epochs=2, shuffle=False, verbose=0, callbacks=[snapshots(model, saved)])
    assert len(saved) == 1
    assert all(np.array_equal(a, b) for a, b in zip(model.get_weights(), saved[0]))
    assert all(np.isfinite(w).all() for w in model.get_weights())


@pytest.mark.filterwarnings("ignore::RuntimeWarning")  # overflow on the way to inf is expected
def test_a_diverging_learning_rate_stops_training():
    rng = np.random.default_rng(0)
    x, y = rng.normal(size=(32, 4)).astype("float32"), rng.normal(size=(32, 2)).astype("float32")
    model = Sequential([Dense(2, input_shape=(4,))])
    model.compile(SGD(learning_rate=1e20), "mse")
    saved = []
    with pytest.raises(ClearCNNError, match=r"epoch \d+, batch \d+") as caught:
        model.fit(x, y, batch_size=4, epochs=3, shuffle=False, verbose=0, callbacks=[snapshots(model, saved)])
    assert "learning rate" in str(caught.value)
    assert all(np.array_equal(a, b) for a, b in zip(model.get_weights(), saved[-1]))


# --- user mistakes ----------------------------------------------------------------------------------

def test_fit_evaluate_before_compile():
    x, y = data()
    model = small_classifier()
    for call in (lambda: model.fit(x, y, verbose=0), lambda: model.evaluate(x, y, verbose=0),
                 lambda: model.train_on_batch(x, y)):
        with pytest.raises(ClearCNNError, match=r"compile"):
            call()


def test_wrong_input_shape_names_the_shape_and_a_fix():
    model = Sequential([Conv2D(2, 3, input_shape=(28, 28, 1)), Flatten(), Dense(10, activation="softmax")])
    model.compile("adam", "sparse_categorical_crossentropy")
    y = np.zeros(4, dtype=int)
    with pytest.raises(ClearCNNError, match=r"\(batch, 28, 28, 1\).*\(4, 28, 28\).*x\[\.\.\., None\]"):
        model.fit(np.zeros((4, 28, 28)), y, verbose=0)
    with pytest.raises(ClearCNNError, match=r"\(4, 32, 32, 1\)"):
        model.predict(np.zeros((4, 32, 32, 1)), verbose=0)
    with pytest.raises(ClearCNNError, match=r"x\[None\]"):
        model.predict(np.zeros((28, 28, 1)), verbose=0)
    with pytest.raises(ClearCNNError, match="numeric"):
        model.predict(np.array([["a"]]), verbose=0)


def test_label_mistakes():
    x, y = data(n=10)
    model = small_classifier()
    model.compile("adam", "sparse_categorical_crossentropy")
    with pytest.raises(ClearCNNError, match="10 inputs and 9 labels"):
        model.fit(x, y[:9], verbose=0)
    with pytest.raises(ClearCNNError, match=r"\[0, 3\)"):
        model.fit(x, np.full(10, 3), verbose=0)
    model.compile("adam", "categorical_crossentropy")
    with pytest.raises(ClearCNNError, match="output shape"):
        model.fit(x, np.eye(4)[y], verbose=0)  # one-hot over 4 classes for 3 outputs
    with pytest.raises(ClearCNNError, match="labels"):
        model.train_on_batch(x, None)


@pytest.mark.parametrize("kwargs, word", [
    (dict(optimizer="nadam", loss="mse"), "nadam"),
    (dict(optimizer="adam", loss="crossentropy"), "crossentropy"),
    (dict(optimizer="adam", loss="mse", metrics=["f1_score"]), "f1_score"),
    (dict(optimizer="adam"), "loss"),
    (dict(optimizer="adam", loss="mse", loss_weights=[1.0]), "loss_weights"),
])
def test_compile_mistakes(kwargs, word):
    with pytest.raises(ClearCNNError, match=word):
        small_classifier().compile(**kwargs)


def test_fit_argument_mistakes():
    x, y = data()
    model = small_classifier()
    model.compile("adam", "sparse_categorical_crossentropy")
    with pytest.raises(ClearCNNError, match="batch_size"):
        model.fit(x, y, batch_size=0, verbose=0)
    with pytest.raises(ClearCNNError, match="validation_split"):
        model.fit(x, y, validation_split=1.5, verbose=0)
    with pytest.raises(ClearCNNError, match="no samples"):
        model.predict(np.zeros((0, 5)), verbose=0)
    with pytest.raises(ClearCNNError, match="sample_weight"):
        model.fit(x, y, sample_weight=np.ones(9), verbose=0)  # one weight per sample
    with pytest.raises(ClearCNNError, match="summary"):
        Sequential([Dense(2)]).summary()


def test_validation_batch_size_sets_the_validation_batches_only():
    x, y = data()
    model = small_classifier()
    model.compile("adam", "sparse_categorical_crossentropy")
    sizes, call = [], model.call
    model.call = lambda batch, training=False: sizes.append((len(batch), training)) or call(batch, training)
    model.fit(x, y, batch_size=4, epochs=1, validation_data=(x, y), validation_batch_size=len(x) - 1, verbose=0)
    assert {size for size, training in sizes if not training} == {len(x) - 1, 1}
    assert {size for size, training in sizes if training} <= {4, len(x) % 4}
    with pytest.raises(ClearCNNError, match="validation_batch_size"):
        model.fit(x, y, validation_data=(x, y), validation_batch_size=0, verbose=0)


# --- the embedded MNIST-10k ---------------------------------------------------------------------

def test_small_cnn_learns_mnist10k_to_97_percent():
    (x_train, y_train), (x_test, y_test) = load_mnist10k()
    assert x_train.shape == (8000, 28, 28) and x_test.shape == (2000, 28, 28)
    x_train = (x_train[..., None] / 255).astype("float32")
    x_test = (x_test[..., None] / 255).astype("float32")
    set_random_seed(0)
    model = Sequential([
        Conv2D(16, 3, activation="relu", input_shape=(28, 28, 1)), MaxPooling2D(),
        Conv2D(32, 3, activation="relu"), MaxPooling2D(),
        Flatten(), Dense(64, activation="relu"), Dense(10, activation="softmax"),
    ])
    model.compile(Adam(learning_rate=0.002), "sparse_categorical_crossentropy", metrics=["accuracy"])
    model.fit(x_train, y_train, batch_size=32, epochs=3, verbose=0)
    model.optimizer.learning_rate = 0.0003  # a lower rate to finish, as with a Keras schedule
    model.fit(x_train, y_train, batch_size=32, epochs=2, verbose=0)
    predicted = model.predict(x_test, batch_size=500, verbose=0).argmax(axis=1)
    accuracy = float(np.mean(predicted == y_test))  # counted here, not by the library's metric
    assert accuracy >= 0.97, f"test accuracy {accuracy:.4f}"
