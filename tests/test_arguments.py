"""Every public argument, given a value of the wrong type or out of range, is either accepted (where Keras 3
accepts it) or refused with one ClearCNNError naming the argument; never another exception, and never after
work was done (weights half set, an epoch trained, memory allocated for a size that cannot fit)."""
import math
import tracemalloc

import numpy as np
import pytest

from clearcnn import ClearCNNError, initializers, metrics
from clearcnn.callbacks import CSVLogger, EarlyStopping, LambdaCallback, ModelCheckpoint
from clearcnn.explain import parse_spec, walk
from clearcnn.layers import Activation, AveragePooling2D, Conv2D, Dense, Dropout, Flatten, Input, MaxPooling2D, Rescaling
from clearcnn.models import Sequential
from clearcnn.optimizers import SGD, Adam, RMSprop
from clearcnn.utils import set_random_seed

# Wrong types and out-of-range values; none is so large that accepting it would take long.
HOSTILE = ["3", b"3", 1.5, -1, 0, float("nan"), float("inf"), -float("inf"), True, None, [], [1, 2, 3], (1, 2, 3),
           {"a": 1}, object(), np.array(["a"]), 1 + 2j]


def model(classes=2):
    built = Sequential([Dense(4, activation="relu", input_shape=(3,)), Dense(classes, activation="softmax")])
    built.compile("sgd", "sparse_categorical_crossentropy", metrics=["accuracy"])
    return built


X, Y = np.random.default_rng(0).normal(size=(8, 3)).astype("float32"), np.arange(8) % 2


def run_layer(layer_class, kwargs):
    layer = layer_class(**kwargs)
    shape = (2, 5) if layer_class is Dense else (2, 6, 6, 1)
    layer(np.ones(shape, "float32"))


def train_with(tmp_path, callback_class, kwargs):
    defaults = {ModelCheckpoint: {"filepath": str(tmp_path / "m.clearcnn")},
                CSVLogger: {"filename": str(tmp_path / "log.csv")}}.get(callback_class, {})
    callback = callback_class(**{**defaults, **kwargs})
    model().fit(X, Y, epochs=2, validation_data=(X, Y), callbacks=[callback], verbose=0)


def optimizer_step(optimizer_class, kwargs):
    built = model()
    built.compile(optimizer_class(**kwargs), "sparse_categorical_crossentropy")
    built.train_on_batch(X, Y)


# (name, the call, the arguments swept): each argument in turn receives every HOSTILE value.
TARGETS = [
    ("Conv2D", lambda kw: run_layer(Conv2D, {"filters": 2, "kernel_size": 3, **kw}),
     ["filters", "kernel_size", "strides", "padding", "dilation_rate", "groups", "activation", "use_bias",
      "kernel_initializer", "bias_initializer", "data_format", "name", "dtype", "input_shape", "batch_size",
      "batch_input_shape"]),
    ("Dense", lambda kw: run_layer(Dense, {"units": 2, **kw}),
     ["units", "activation", "use_bias", "kernel_initializer", "bias_initializer", "name", "dtype"]),
    ("MaxPooling2D", lambda kw: run_layer(MaxPooling2D, kw), ["pool_size", "strides", "padding", "data_format"]),
    ("AveragePooling2D", lambda kw: run_layer(AveragePooling2D, kw), ["pool_size", "strides", "padding"]),
    ("Flatten", lambda kw: run_layer(Flatten, kw), ["data_format", "name"]),
    ("Dropout", lambda kw: run_layer(Dropout, {"rate": 0.5, **kw}), ["rate", "noise_shape", "seed"]),
    ("Activation", lambda kw: run_layer(Activation, {"activation": "relu", **kw}), ["activation"]),
    ("Rescaling", lambda kw: run_layer(Rescaling, {"scale": 0.5, **kw}), ["scale", "offset"]),
    ("Input", lambda kw: Input(**{"shape": (3,), **kw}), ["shape", "batch_size", "batch_shape", "name"]),
    ("Sequential", lambda kw: Sequential(**kw), ["layers", "name"]),
    ("GlorotUniform", lambda kw: run_layer(Dense, {"units": 2, "kernel_initializer": initializers.GlorotUniform(**kw)}),
     ["seed"]),
    ("SGD", lambda kw: optimizer_step(SGD, kw), ["learning_rate", "momentum", "nesterov"]),
    ("Adam", lambda kw: optimizer_step(Adam, kw), ["learning_rate", "beta_1", "beta_2", "epsilon"]),
    ("RMSprop", lambda kw: optimizer_step(RMSprop, kw), ["learning_rate", "rho", "momentum", "epsilon"]),
    ("compile", lambda kw: model().compile(**{"optimizer": "sgd", "loss": "mse", **kw}),
     ["optimizer", "loss", "metrics"]),
    ("fit", lambda kw: model().fit(**{"x": X, "y": Y, "verbose": 0, **kw}),
     ["x", "y", "batch_size", "epochs", "verbose", "callbacks", "validation_split", "validation_data", "shuffle",
      "initial_epoch"]),
    ("evaluate", lambda kw: model().evaluate(**{"x": X, "y": Y, "verbose": 0, **kw}),
     ["x", "y", "batch_size", "verbose"]),
    ("predict", lambda kw: model().predict(**{"x": X, "verbose": 0, **kw}), ["x", "batch_size", "verbose"]),
    ("train_on_batch", lambda kw: model().train_on_batch(**{"x": X, "y": Y, **kw}), ["x", "y"]),
    ("test_on_batch", lambda kw: model().test_on_batch(**{"x": X, "y": Y, **kw}), ["x", "y"]),
    ("get_layer", lambda kw: model().get_layer(**kw), ["name", "index"]),
    ("set_weights", lambda kw: model().set_weights(**kw), ["arrays"]),
    ("build", lambda kw: Sequential([Dense(2)]).build(**kw), ["input_shape"]),
    ("summary", lambda kw: model().summary(**{"print_fn": lambda line: None, **kw}), ["line_length"]),
    ("BinaryAccuracy", lambda kw: metrics.BinaryAccuracy(**kw).update_state(Y, X[:, :1]), ["threshold"]),
    ("EarlyStopping", "callback", ["monitor", "min_delta", "patience", "verbose", "mode", "baseline",
                                   "restore_best_weights", "start_from_epoch"]),
    ("ModelCheckpoint", "callback", ["filepath", "monitor", "verbose", "save_best_only", "save_weights_only",
                                     "mode", "save_freq"]),
    ("CSVLogger", "callback", ["filename", "separator", "append"]),
    ("LambdaCallback", "callback", ["on_epoch_end", "on_train_batch_end"]),
]
CALLBACKS = {"EarlyStopping": EarlyStopping, "ModelCheckpoint": ModelCheckpoint, "CSVLogger": CSVLogger,
             "LambdaCallback": LambdaCallback}
CASES = [(name, argument) for name, _, arguments in TARGETS for argument in arguments]


@pytest.mark.parametrize("name, argument", CASES, ids=[f"{n}-{a}" for n, a in CASES])
def test_a_hostile_argument_is_accepted_or_refused_clearly(name, argument, tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)  # a file name such as "3" is valid: written here
    action = dict((n, a) for n, a, _ in TARGETS)[name]
    for value in HOSTILE:
        try:
            if action == "callback":
                train_with(tmp_path, CALLBACKS[name], {argument: value})
            else:
                action({argument: value})
        except ClearCNNError as error:
            # x, y and arrays are named in their own words (input `x`); a built shape by the layer it does not fit
            assert argument in str(error) or argument in ("x", "y", "arrays") or name == "build", \
                f"{argument}={value!r}: {error}"
        except Exception as error:  # noqa: BLE001 - the point of the test
            pytest.fail(f"{name}({argument}={value!r}) raised {type(error).__name__}: {error}")


# --- what must be refused, with the argument, the value and what works in the message ----------------

def generator(*items):
    return (items for _ in range(2))


REFUSED = {
    "epochs=1.5": (lambda: model().fit(X, Y, epochs=1.5, verbose=0), ["`epochs`", "epochs=1.5", "integer"]),
    "epochs=-1": (lambda: model().fit(X, Y, epochs=-1, verbose=0), ["`epochs`", "epochs=-1"]),
    "epochs='3'": (lambda: model().fit(X, Y, epochs="3", verbose=0), ["`epochs`", "epochs='3'"]),
    "epochs=True": (lambda: model().fit(X, Y, epochs=True, verbose=0), ["`epochs`", "epochs=True"]),
    "initial_epoch=0.5": (lambda: model().fit(X, Y, epochs=2, initial_epoch=0.5, verbose=0),
                          ["`initial_epoch`", "initial_epoch=0.5"]),
    "initial_epoch=-1": (lambda: model().fit(X, Y, initial_epoch=-1, verbose=0), ["`initial_epoch`"]),
    "validation_split='a'": (lambda: model().fit(X, Y, validation_split="a", verbose=0),
                             ["`validation_split`", "validation_split='a'", "[0, 1)"]),
    "validation_split=nan": (lambda: model().fit(X, Y, validation_split=float("nan"), verbose=0),
                             ["`validation_split`"]),
    "string labels": (lambda: model().fit(X, np.array(["cat", "dog"] * 4), verbose=0),
                      ["labels `y`", "<U3", "integer"]),
    "object labels": (lambda: model().evaluate(X, [object()] * 8, verbose=0), ["labels `y`", "object"]),
    "ragged x": (lambda: model().fit([[1, 2, 3], [1, 2]], [0, 1], verbose=0), ["input `x`", "ragged"]),
    "ragged y": (lambda: model().fit(X, [[0], [1, 1]] * 4, verbose=0), ["labels `y`", "ragged"]),
    "ragged predict": (lambda: model().predict([[1.0, 2, 3], [1.0]], verbose=0), ["input `x`", "ragged"]),
    "ragged train_on_batch": (lambda: model().train_on_batch([[1.0, 2, 3], [1.0]], [0, 1]), ["ragged"]),
    "1-tuples from a generator": (lambda: model().fit(generator(X), verbose=0), ["labels", "(x, y)"]),
    "negative sample weights from a generator": (lambda: model().fit(generator(X, Y, -np.ones(8)), verbose=0),
                                                 ["`sample_weight`", "non-negative"]),
    "4-tuples from a generator": (lambda: model().fit(generator(X, Y, None, None), verbose=0), ["4 items"]),
    "empty tuples from a generator": (lambda: model().predict(generator(), verbose=0), ["0 items"]),
    "text batches from a generator": (lambda: model().fit(generator("ab", "cd"), verbose=0), ["input `x`", "<U2"]),
    "text labels from a generator": (lambda: model().fit(generator(X, ["a"] * 8), verbose=0), ["labels `y`"]),
    "validation_data=5": (lambda: model().fit(X, Y, validation_data=5, verbose=0), ["validation_data"]),
    "callbacks=1": (lambda: model().fit(X, Y, callbacks=1, verbose=0), ["`callbacks`", "callbacks=1"]),
    "callbacks=[print]": (lambda: model().fit(X, Y, callbacks=[print], verbose=0), ["`callbacks`", "Callback"]),
    "shuffle='x'": (lambda: model().fit(X, Y, shuffle="x", verbose=0), ["`shuffle`", "shuffle='x'"]),
    "verbose='x'": (lambda: model().predict(X, verbose="x"), ["`verbose`", "verbose='x'"]),
    "batch_size=2.5 on a dataset": (lambda: model().fit(generator(X, Y), batch_size=2.5, verbose=0),
                                    ["`batch_size`"]),
    "metrics=5": (lambda: model().compile("sgd", "mse", metrics=5), ["`metrics`", "metrics=5"]),
    "get_layer(index=99)": (lambda: model().get_layer(index=99), ["`index`", "index=99", "2 layers"]),
    "get_layer(index=-3)": (lambda: model().get_layer(index=-3), ["`index`", "index=-3"]),
    "get_layer(index='0')": (lambda: model().get_layer(index="0"), ["`index`"]),
    "get_layer()": (lambda: model().get_layer(), ["name", "index"]),
    "set_weights of strings": (lambda: model().set_weights([np.full((3, 4), "a"), np.zeros(4), np.zeros((4, 2)),
                                                            np.zeros(2)]), ["dense", "kernel", "<U1"]),
    "set_weights of 5": (lambda: model().set_weights(5), ["set_weights", "arrays=5"]),
    "SGD(learning_rate=inf)": (lambda: SGD(learning_rate=float("inf")), ["`learning_rate`", "learning_rate=inf"]),
    "SGD(learning_rate=nan)": (lambda: SGD(learning_rate=float("nan")), ["`learning_rate`"]),
    "SGD(momentum=nan)": (lambda: SGD(momentum=float("nan")), ["`momentum`", "momentum=nan"]),
    "SGD(momentum='0.9')": (lambda: SGD(momentum="0.9"), ["`momentum`", "momentum='0.9'"]),
    "SGD(nesterov='no')": (lambda: SGD(nesterov="no"), ["`nesterov`", "nesterov='no'"]),
    "Adam(beta_1=1.0)": (lambda: Adam(beta_1=1.0), ["`beta_1`", "beta_1=1.0", "[0, 1)"]),
    "Adam(beta_2=-0.1)": (lambda: Adam(beta_2=-0.1), ["`beta_2`"]),
    "Adam(epsilon=inf)": (lambda: Adam(epsilon=float("inf")), ["`epsilon`", "epsilon=inf"]),
    "Adam(epsilon=-1)": (lambda: Adam(epsilon=-1e-7), ["`epsilon`"]),
    "RMSprop(rho=nan)": (lambda: RMSprop(rho=float("nan")), ["`rho`"]),
    "RMSprop(momentum=2)": (lambda: RMSprop(momentum=2), ["`momentum`", "momentum=2"]),
    "Dense(name=3)": (lambda: Dense(2, name=3), ["`name`", "name=3"]),
    "Dense(name='a/b')": (lambda: Dense(2, name="a/b"), ["`name`", "'a/b'", "/"]),
    "Dense(batch_size=-2)": (lambda: Dense(2, input_shape=(3,), batch_size=-2), ["`batch_size`"]),
    "Dense(batch_input_shape=5)": (lambda: Dense(2, batch_input_shape=5), ["`batch_input_shape`"]),
    "Input(batch_shape=5)": (lambda: Input(batch_shape=5), ["`batch_shape`", "batch_shape=5"]),
    "Rescaling(scale=inf)": (lambda: Rescaling(float("inf")), ["`scale`", "scale=inf"]),
    "GlorotUniform(seed='x')": (lambda: initializers.GlorotUniform(seed="x"), ["`seed`", "seed='x'"]),
    "set_random_seed(-1)": (lambda: set_random_seed(-1), ["set_random_seed", "`seed`", "seed=-1"]),
    "set_random_seed(1.5)": (lambda: set_random_seed(1.5), ["`seed`", "seed=1.5"]),
    "set_random_seed('a')": (lambda: set_random_seed("a"), ["`seed`", "seed='a'"]),
    "Sequential(layers=5)": (lambda: Sequential(5), ["`layers`", "layers=5"]),
    "build(input_shape=5)": (lambda: Sequential([Dense(2)]).build(5), ["`input_shape`", "input_shape=5"]),
    "summary(line_length='x')": (lambda: model().summary(line_length="x"), ["`line_length`"]),
    "EarlyStopping(patience=1.5)": (lambda: EarlyStopping(patience=1.5), ["`patience`", "patience=1.5"]),
    "EarlyStopping(min_delta='x')": (lambda: EarlyStopping(min_delta="x"), ["`min_delta`"]),
    "EarlyStopping(monitor=5)": (lambda: EarlyStopping(monitor=5), ["`monitor`", "monitor=5"]),
    "ModelCheckpoint('m.h5')": (lambda: ModelCheckpoint("m.h5"), ["`filepath`", "'m.h5'", ".keras"]),
    "ModelCheckpoint weights to m.keras": (lambda: ModelCheckpoint("m.keras", save_weights_only=True),
                                           ["`filepath`", "'m.keras'", ".weights.h5"]),
    "CSVLogger(separator='ab')": (lambda: CSVLogger("log.csv", separator="ab"), ["`separator`", "separator='ab'"]),
    "LambdaCallback(on_epoch_end=5)": (lambda: LambdaCallback(on_epoch_end=5), ["`on_epoch_end`"]),
    "BinaryAccuracy(threshold='x')": (lambda: metrics.BinaryAccuracy(threshold="x"), ["`threshold`"]),
}


@pytest.mark.parametrize("mistake", list(REFUSED))
def test_mistake_is_refused_naming_the_argument_and_the_value(mistake):
    action, fragments = REFUSED[mistake]
    with pytest.raises(ClearCNNError) as info:
        action()
    for fragment in fragments:
        assert fragment in str(info.value), f"{fragment!r} missing from: {info.value}"


ACCEPTED = {  # what Keras 3 accepts stays accepted
    "numpy integer epochs": lambda: model().fit(X, Y, epochs=np.int64(2), initial_epoch=np.int32(1), verbose=0),
    "zero epochs": lambda: model().fit(X, Y, epochs=0, verbose=0),
    "verbose=True": lambda: model().predict(X, verbose=False),
    "numpy bool shuffle": lambda: model().fit(X, Y, shuffle=np.bool_(False), verbose=0),
    "validation_split as numpy float": lambda: model().fit(X, Y, validation_split=np.float32(0.25), verbose=0),
    "bool labels": lambda: model().fit(X, Y.astype(bool), verbose=0),
    "labels as a list": lambda: model().fit(X, list(Y), verbose=0),
    "(x,) batches for predict": lambda: model().predict(generator(X), verbose=0),
    "(x, y, None) batches": lambda: model().fit(generator(X, Y, None), verbose=0),
    "negative get_layer index": lambda: model().get_layer(index=-1),
    "SGD(momentum=1)": lambda: SGD(momentum=1),
    "Adam(epsilon=0)": lambda: Adam(epsilon=0),
    "numpy float hyperparameters": lambda: Adam(np.float32(0.01), beta_1=np.float64(0.5)),
    "set_weights of ints": lambda: model().set_weights([np.ones((3, 4), int), [1, 2, 3, 4], np.zeros((4, 2), int),
                                                        np.zeros(2, np.int8)]),
    "EarlyStopping(patience=np.int64(2))": lambda: EarlyStopping(patience=np.int64(2), min_delta=np.float32(0.1)),
    "set_random_seed(np.int64(7))": lambda: set_random_seed(np.int64(7)),
}


@pytest.mark.parametrize("case", list(ACCEPTED))
def test_what_keras_accepts_is_accepted(case, capsys):
    ACCEPTED[case]()


# --- all or nothing: set_weights ---------------------------------------------------------------------------

BAD_LAST = {
    "wrong shape": np.zeros(3),
    "strings": np.array(["a", "b"]),
    "objects": np.array([None, None], dtype=object),
    "complex": np.zeros(2, complex),
    "ragged": [[1.0], [1.0, 2.0]],
    "a dict": {"bias": np.zeros(2)},
}


@pytest.mark.parametrize("bad", list(BAD_LAST))
def test_set_weights_with_only_the_last_array_wrong_changes_nothing(bad):
    built = model()
    before = built.get_weights()
    new = [w + 1 for w in before[:-1]] + [BAD_LAST[bad]]
    with pytest.raises(ClearCNNError):
        built.set_weights(new)
    assert all(np.array_equal(a, b) for a, b in zip(built.get_weights(), before))
    with pytest.raises(ClearCNNError):  # and one layer on its own: its kernel stays as it was
        built.layers[-1].set_weights([before[2] + 1, BAD_LAST[bad]])
    assert all(np.array_equal(a, b) for a, b in zip(built.get_weights(), before))


def test_set_weights_with_one_array_too_many_or_too_few_changes_nothing():
    built = model()
    before = built.get_weights()
    for arrays in ([w + 1 for w in before] + [np.zeros(2)], [w + 1 for w in before[:-1]]):
        with pytest.raises(ClearCNNError, match=r"needs 4 arrays"):
            built.set_weights(arrays)
        assert all(np.array_equal(a, b) for a, b in zip(built.get_weights(), before))


def test_set_weights_converts_integers_to_the_weight_dtype():
    built = model()
    built.set_weights([np.ones((3, 4), int), [1, 2, 3, 4], np.full((4, 2), 2, np.int8), np.zeros(2, np.uint8)])
    kernel, bias = built.get_weights()[:2]
    assert kernel.dtype == np.float32 and bias.tolist() == [1, 2, 3, 4]


# --- sizes a user declares: refused before allocating, with the memory they would need -----------------

def peak_bytes(action):
    """The peak of memory that Python and NumPy allocated while `action` ran (NumPy reports to tracemalloc)."""
    tracemalloc.start()
    try:
        action()
    finally:
        peak = tracemalloc.get_traced_memory()[1]
        tracemalloc.stop()
    return peak


@pytest.mark.parametrize("make, fragments", [
    (lambda: Sequential([Dense(10 ** 12, input_shape=(3,))]), ["Dense", "kernel", "(3, 1000000000000)", "TB"]),
    (lambda: Sequential([Conv2D(10 ** 6, 1000, input_shape=(1000, 1000, 3))]),
     ["Conv2D", "kernel", "(1000, 1000, 3, 1000000)", "TB", "memory"]),
    (lambda: Dense(10 ** 19)(np.zeros((1, 1))), ["Dense", "kernel"]),
    (lambda: initializers.GlorotUniform()((10 ** 7, 10 ** 7)), ["GlorotUniform", "(10000000, 10000000)", "TB"]),
])
def test_a_weight_too_large_for_memory_is_refused_before_allocating(make, fragments):
    def attempt():
        with pytest.raises(ClearCNNError) as info:
            make()
        for fragment in fragments:
            assert fragment in str(info.value), f"{fragment!r} missing from: {info.value}"
    assert peak_bytes(attempt) < 16 * 2 ** 20


def test_the_shape_walk_of_a_huge_input_allocates_no_weights():
    spec = "100000x100000x3 | conv 10 3 | flatten | dense 10"
    lines = []
    assert peak_bytes(lambda: lines.extend(walk(*parse_spec(spec)))) < 64 * 2 ** 20
    text = "\n".join(lines)
    flat = 99998 * 99998 * 10
    assert "output 99998x99998x10, 280 parameters, 10 x 3 = 30 two-dimensional 3x3 kernels" in text, text
    assert f"output {flat}, 0 parameters" in text, text
    assert f"output 10, {flat * 10 + 10:,} parameters" in text, text
    assert f"total: {flat * 10 + 10 + 280:,} parameters" in text, text


def test_the_shape_walk_counts_what_building_would_create():
    spec = "32x32x3 | conv 6 3 | maxpool 3 1 | conv 16 5 | maxpool 3 1 | flatten | dense 120 | dense 3"
    input_shape, layers = parse_spec(spec)
    lines = walk(input_shape, layers)
    assert not any(layer.built for layer in layers)  # arithmetic only
    built = Sequential([Input(input_shape), *parse_spec(spec)[1]])
    assert lines[-1] == f"total: {built.count_params():,} parameters"
    assert math.isclose(built.count_params(), 932_347)


def test_optimizer_state_that_does_not_fit_is_a_clear_error(monkeypatch):
    built = model()
    built.compile(Adam(), "sparse_categorical_crossentropy")

    def no_memory(*args, **kwargs):
        raise MemoryError
    monkeypatch.setattr(np, "zeros_like", no_memory)  # as when the weights fit but twice their size does not
    with pytest.raises(ClearCNNError, match=r"Adam: its state \(m, v for every weight\) would need 208.00 B"):
        built.train_on_batch(X, Y)
