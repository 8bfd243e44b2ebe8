"""`import clearcnn as keras` runs Keras CNN code: the namespaces hold Keras's names for what clearcnn has, a
Keras name it lacks raises ClearCNNError naming it, keras.utils's helpers give what Keras's give, and Keras's
"Simple MNIST convnet" example runs with only its import and its data loading changed."""
import os

os.environ.setdefault("KERAS_BACKEND", "torch")

import numpy as np
import pytest

import clearcnn
from clearcnn import ClearCNNError

pytestmark = pytest.mark.filterwarnings("ignore:__array__ implementation doesn't accept a copy:DeprecationWarning")

# What Keras CNN code reaches for, by namespace: each must be there under `import clearcnn as keras`.
KERAS_NAMES = {
    "": ["Input", "Sequential", "models", "layers", "utils", "callbacks", "optimizers", "initializers", "regularizers",
         "constraints", "losses", "metrics", "datasets", "saving"],
    "models": ["Sequential", "load_model"],
    "layers": ["Input", "InputLayer", "Conv2D", "MaxPooling2D", "AveragePooling2D", "Flatten", "Dense", "Dropout",
               "Activation", "Rescaling"],
    "utils": ["to_categorical", "normalize", "set_random_seed", "image_dataset_from_directory", "load_img",
              "img_to_array", "array_to_img", "save_img"],
    "callbacks": ["Callback", "EarlyStopping", "ModelCheckpoint", "CSVLogger", "LambdaCallback", "History"],
    "optimizers": ["SGD", "Adam", "AdamW", "RMSprop", "schedules"],
    "optimizers.schedules": ["ExponentialDecay", "PiecewiseConstantDecay", "CosineDecay", "LearningRateSchedule"],
    "initializers": ["Zeros", "Ones", "Constant", "RandomNormal", "RandomUniform", "TruncatedNormal", "GlorotNormal",
                     "GlorotUniform", "HeNormal", "HeUniform", "LecunNormal", "LecunUniform", "VarianceScaling",
                     "Orthogonal", "Identity", "he_normal", "glorot_uniform"],
    "regularizers": ["L1", "L2", "L1L2", "l1", "l2", "l1_l2"],
    "constraints": ["MaxNorm", "NonNeg", "UnitNorm", "MinMaxNorm", "max_norm", "non_neg"],
    "losses": ["CategoricalCrossentropy", "SparseCategoricalCrossentropy", "BinaryCrossentropy", "MeanSquaredError"],
    "metrics": ["Accuracy", "BinaryAccuracy", "CategoricalAccuracy", "SparseCategoricalAccuracy"],
    "saving": ["load_model", "save_model"],
}


def namespace(path):
    module = clearcnn
    for part in filter(None, path.split(".")):
        module = getattr(module, part)
    return module


@pytest.mark.parametrize("path", list(KERAS_NAMES))
def test_keras_names_are_there(path):
    missing = [name for name in KERAS_NAMES[path] if not hasattr(namespace(path), name)]
    assert not missing, f"keras.{path} lacks {missing}"


def test_names_that_match_keras_have_keras_names():
    keras = pytest.importorskip("keras")
    for path, names in KERAS_NAMES.items():
        module = keras
        for part in filter(None, path.split(".")):
            module = getattr(module, part)
        assert [n for n in names if not hasattr(module, n)] == [], path  # the names asked for are Keras's own


@pytest.mark.parametrize("path, name", [("layers", "LSTM"), ("", "Model"), ("optimizers", "Nadam"),
                                        ("callbacks", "TensorBoard"), ("utils", "plot_model"),
                                        ("optimizers.schedules", "PolynomialDecay"), ("losses", "Huber"),
                                        ("initializers", "STFT"), ("datasets", "cifar100"), ("", "applications")])
def test_a_keras_name_clearcnn_lacks_is_named(path, name):
    module = namespace(path)
    with pytest.raises(ClearCNNError) as error:
        getattr(module, name)
    assert isinstance(error.value, AttributeError)  # hasattr() and getattr(..., default) keep working
    assert f"keras.{path + '.' if path else ''}{name}" in str(error.value) and "offers" in str(error.value)
    assert not hasattr(module, name) and getattr(module, name, 7) == 7
    with pytest.raises(AttributeError):  # Python's own probes get a plain AttributeError
        module.__no_such_thing__  # noqa: B018


def test_to_categorical_and_normalize_equal_keras():
    keras = pytest.importorskip("keras")
    for labels, classes in [([0, 3, 1], None), (np.array([[2], [0], [1]], dtype=np.uint8), 5),
                            (np.array([[1, 0], [2, 2]]), 3), (np.array([4.0, 1.0]), None)]:
        ours = clearcnn.utils.to_categorical(labels, classes)
        theirs = keras.utils.to_categorical(labels, classes)
        assert ours.shape == theirs.shape and ours.dtype == theirs.dtype
        np.testing.assert_array_equal(ours, theirs)
    x = np.random.default_rng(0).normal(size=(4, 3, 5))
    x[0, 0] = 0
    for axis, order in [(-1, 2), (1, 1), (2, 3)]:
        np.testing.assert_allclose(clearcnn.utils.normalize(x, axis, order), keras.utils.normalize(x, axis, order))
    np.testing.assert_allclose(np.linalg.norm(clearcnn.utils.normalize(x, 0), axis=0), 1)  # Keras fails on axis=0
    for bad, words in [(lambda: clearcnn.utils.to_categorical([0, 5], 3), ["5", "num_classes=3"]),
                       (lambda: clearcnn.utils.to_categorical([-1]), ["-1"]),
                       (lambda: clearcnn.utils.to_categorical([0.5]), ["0.5"])]:
        with pytest.raises(ClearCNNError) as error:
            bad()
        assert all(w in str(error.value) for w in words)


def test_single_images_in_and_out_as_keras(tmp_path):
    keras = pytest.importorskip("keras")
    pytest.importorskip("PIL")
    rng = np.random.default_rng(1)
    picture = rng.integers(0, 256, size=(20, 30, 3)).astype(np.float32)
    clearcnn.utils.save_img(tmp_path / "a.png", picture, scale=False)
    keras.utils.save_img(tmp_path / "b.png", picture, scale=False)
    for color_mode, size, keep in [("rgb", None, False), ("grayscale", (10, 12), False), ("rgba", (8, 8), True)]:
        for interpolation in ("nearest", "bilinear"):
            ours = clearcnn.utils.load_img(tmp_path / "a.png", color_mode, size, interpolation, keep)
            theirs = keras.utils.load_img(tmp_path / "b.png", color_mode, size, interpolation, keep)
            assert ours.size == theirs.size and ours.mode == theirs.mode
            np.testing.assert_array_equal(clearcnn.utils.img_to_array(ours), keras.utils.img_to_array(theirs))
    np.testing.assert_array_equal(clearcnn.utils.img_to_array(clearcnn.utils.load_img(tmp_path / "a.png")), picture)
    for scale in (True, False):
        ours, theirs = clearcnn.utils.array_to_img(picture / 2, scale=scale), keras.utils.array_to_img(picture / 2,
                                                                                                       scale=scale)
        np.testing.assert_array_equal(np.asarray(ours), np.asarray(theirs))
    assert clearcnn.utils.img_to_array(clearcnn.utils.array_to_img(picture[:, :, :1]), "channels_first").shape == \
        (1, 20, 30)
    (tmp_path / "bad.png").write_bytes(b"not an image")
    with pytest.raises(ClearCNNError, match="bad.png"):
        clearcnn.utils.load_img(tmp_path / "bad.png")


def test_a_schedule_as_learning_rate_steps_in_fit():
    """ExponentialDecay in SGD: each optimizer step uses the schedule at the steps taken so far, as Keras."""
    keras = clearcnn
    model = keras.Sequential([keras.Input((3,)), keras.layers.Dense(1, use_bias=False, kernel_initializer="zeros")])
    schedule = keras.optimizers.schedules.ExponentialDecay(0.1, decay_steps=1, decay_rate=0.5)
    model.compile(keras.optimizers.SGD(learning_rate=schedule), "mse")
    x, y = np.eye(3, dtype=np.float32)[:1], np.ones((1, 1), np.float32)
    model.fit(np.repeat(x, 3, 0), np.repeat(y, 3, 0), batch_size=1, epochs=1, shuffle=False, verbose=0)
    w = 0.0
    for step in range(3):  # mse on one sample: gradient 2 (w - 1)
        w -= 0.1 * 0.5 ** step * 2 * (w - 1)
    assert model.layers[0].get_weights()[0][0, 0] == pytest.approx(w, rel=1e-6)


# --- Keras's "Simple MNIST convnet" (keras.io/examples/vision/mnist_convnet), as published, with only the import
# line and the data loading changed; fewer samples and epochs keep it short.
MNIST_CONVNET = '''
import numpy as np
{import_line}
from {package} import layers

num_classes = 10
input_shape = (28, 28, 1)

(x_train, y_train), (x_test, y_test) = clearcnn_datasets.load_mnist10k()
x_train, y_train = x_train[:train_samples], y_train[:train_samples]

x_train = x_train.astype("float32") / 255
x_test = x_test.astype("float32") / 255
x_train = np.expand_dims(x_train, -1)
x_test = np.expand_dims(x_test, -1)
print("x_train shape:", x_train.shape)
print(x_train.shape[0], "train samples")
print(x_test.shape[0], "test samples")

y_train = keras.utils.to_categorical(y_train, num_classes)
y_test = keras.utils.to_categorical(y_test, num_classes)

model = keras.Sequential(
    [
        keras.Input(shape=input_shape),
        layers.Conv2D(32, kernel_size=(3, 3), activation="relu"),
        layers.MaxPooling2D(pool_size=(2, 2)),
        layers.Conv2D(64, kernel_size=(3, 3), activation="relu"),
        layers.MaxPooling2D(pool_size=(2, 2)),
        layers.Flatten(),
        layers.Dropout(0.5),
        layers.Dense(num_classes, activation="softmax"),
    ]
)

model.summary()

batch_size = 128

model.compile(loss="categorical_crossentropy", optimizer="adam", metrics=["accuracy"])

model.fit(x_train, y_train, batch_size=batch_size, epochs=epochs, validation_split=0.1, verbose=0)

score = model.evaluate(x_test, y_test, verbose=0)
print("Test loss:", score[0])
print("Test accuracy:", score[1])
'''


def run_mnist_convnet(package, train_samples, epochs):
    """The example's test accuracy, run with `import clearcnn as keras` or with Keras itself."""
    import_line = "import clearcnn as keras" if package == "clearcnn" else "import keras"
    scope = {"clearcnn_datasets": clearcnn.datasets, "train_samples": train_samples, "epochs": epochs}
    namespace_module = clearcnn if package == "clearcnn" else pytest.importorskip("keras")
    namespace_module.utils.set_random_seed(0)
    exec(MNIST_CONVNET.format(import_line=import_line, package=package), scope)
    return float(scope["score"][1])


def test_simple_mnist_convnet_runs_with_import_clearcnn_as_keras(capsys):
    accuracy = run_mnist_convnet("clearcnn", train_samples=4000, epochs=3)
    printed = capsys.readouterr().out
    assert "Total params: 34,826" in printed and "Test accuracy:" in printed  # Keras's summary figure
    assert accuracy > 0.9


@pytest.mark.skipif(os.environ.get("CLEARCNN_KERAS_ACCEPTANCE") != "1",
                    reason="Keras's own run of the example takes minutes on a CPU: CLEARCNN_KERAS_ACCEPTANCE=1")
def test_simple_mnist_convnet_reaches_keras_accuracy():
    ours = run_mnist_convnet("clearcnn", train_samples=8000, epochs=3)
    theirs = run_mnist_convnet("keras", train_samples=8000, epochs=3)
    assert abs(ours - theirs) <= 0.01, (ours, theirs)


# --- Keras's "Image classification from scratch" (keras.io/examples/vision/image_classification_from_scratch),
# its Sequential form: the augmentation layers inside the model, then a small convnet. Changed: the imports, the
# data (a local folder of two classes of striped pictures, made here, instead of the cats and dogs), fewer epochs,
# a smaller network, and keras.ops.expand_dims / keras.ops.sigmoid written with NumPy (clearcnn.ops is its engine).
IMAGE_CLASSIFICATION = '''
{import_line}
from {package} import layers

image_size = (32, 32)
batch_size = 32

train_ds, val_ds = {loader}(
    folder,
    validation_split=0.2,
    subset="both",
    seed=1337,
    image_size=image_size,
    batch_size=batch_size,
)
{as_arrays}
data_augmentation_layers = [
    layers.RandomFlip("horizontal"),
    layers.RandomRotation(0.1),
]

model = keras.Sequential(
    [
        keras.Input(shape=image_size + (3,)),
        *data_augmentation_layers,
        layers.Rescaling(1.0 / 255),
        layers.Conv2D(32, 3, strides=2, padding="same"),
        layers.BatchNormalization(),
        layers.Activation("relu"),
        layers.Conv2D(64, 3, padding="same"),
        layers.BatchNormalization(),
        layers.Activation("relu"),
        layers.MaxPooling2D(3, strides=2, padding="same"),
        layers.GlobalAveragePooling2D(),
        layers.Dropout(0.25),
        layers.Dense(1, activation=None),
    ]
)

callbacks = [
    keras.callbacks.ModelCheckpoint(os.path.join(folder, "save_at_{{epoch}}.keras")),
]
model.compile(
    optimizer=keras.optimizers.Adam(3e-3),
    loss=keras.losses.BinaryCrossentropy(from_logits=True),
    metrics=[keras.metrics.BinaryAccuracy(name="acc")],
)
history = model.fit(
    train_ds,
    epochs=epochs,
    callbacks=callbacks,
    validation_data=val_ds,
    verbose=0,
)

img = keras.utils.load_img(os.path.join(folder, "Horizontal", "3.png"), target_size=image_size)
img_array = keras.utils.img_to_array(img)
img_array = np.expand_dims(img_array, 0)  # Create batch axis

predictions = model.predict(img_array, verbose=0)
score = float(1 / (1 + np.exp(-predictions[0][0])))
print(f"This image is {{100 * (1 - score):.2f}}% Horizontal and {{100 * score:.2f}}% Vertical.")
'''


def striped_pictures(folder, per_class=200, seed=0):
    """Two classes of 40x40 PNG pictures: stripes across (Horizontal) or down (Vertical), of random period, phase
    and colour, with noise."""
    Image = pytest.importorskip("PIL.Image")
    rng = np.random.default_rng(seed)
    rows, cols = np.mgrid[0:40, 0:40]
    for name, axis in (("Horizontal", rows), ("Vertical", cols)):
        (folder / name).mkdir(parents=True)
        for i in range(per_class):
            wave = 0.5 + 0.5 * np.sin(2 * np.pi * axis / rng.uniform(4, 10) + rng.uniform(0, 2 * np.pi))
            rgb = 255 * (0.7 * wave[..., None] * rng.uniform(0.3, 1.0, 3) + 0.3 * rng.uniform(0, 1, (40, 40, 3)))
            Image.fromarray(rgb.clip(0, 255).astype(np.uint8)).save(folder / name / f"{i}.png")
    return folder


def run_image_classification(package, folder, epochs):
    """The example's validation accuracy per epoch, and the scope it ran in. Keras's own image loader needs
    TensorFlow; Keras's run reads the same batches from clearcnn's loader, as arrays."""
    scope = {"folder": str(folder), "epochs": epochs, "np": np, "os": os, "clearcnn": clearcnn}
    if package == "clearcnn":
        code = IMAGE_CLASSIFICATION.format(import_line="import clearcnn as keras", package="clearcnn",
                                           loader="keras.utils.image_dataset_from_directory", as_arrays="")
    else:
        pytest.importorskip("keras")
        as_arrays = ("train_ds = tuple(np.concatenate(part) for part in zip(*train_ds))\n"
                     "val_ds = tuple(np.concatenate(part) for part in zip(*val_ds))\n")
        code = IMAGE_CLASSIFICATION.format(import_line="import keras", package="keras", as_arrays=as_arrays,
                                           loader="clearcnn.utils.image_dataset_from_directory")
        code = code.replace("    train_ds,\n    epochs", "    *train_ds,\n    batch_size=batch_size,\n    epochs")
    (clearcnn if package == "clearcnn" else pytest.importorskip("keras")).utils.set_random_seed(0)
    exec(code, scope)
    return scope["history"].history["val_acc"], scope


def test_image_classification_from_scratch_runs_with_import_clearcnn_as_keras(tmp_path, capsys):
    folder = striped_pictures(tmp_path / "Stripes")
    val_acc, scope = run_image_classification("clearcnn", folder, epochs=8)
    assert len(val_acc) == 8 and val_acc[-1] >= 0.95
    assert "% Horizontal and" in capsys.readouterr().out
    # the checkpoint of the last epoch comes back compiled, its optimizer's state with it
    restored = clearcnn.models.load_model(folder / "save_at_8.keras")
    assert type(restored.optimizer).__name__ == "Adam" and restored.optimizer.iterations == 8 * 10
    assert restored.metrics_names == ["loss", "acc"]


@pytest.mark.skipif(os.environ.get("CLEARCNN_KERAS_ACCEPTANCE") != "1",
                    reason="Keras's own run of the example takes minutes on a CPU: CLEARCNN_KERAS_ACCEPTANCE=1")
def test_image_classification_from_scratch_reaches_keras_accuracy(tmp_path):
    folder = striped_pictures(tmp_path / "Stripes")
    ours, _ = run_image_classification("clearcnn", folder, epochs=8)
    theirs, _ = run_image_classification("keras", folder, epochs=8)
    assert abs(ours[-1] - theirs[-1]) <= 0.01, (ours, theirs)
