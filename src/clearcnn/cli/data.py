"""What the command line trains and evaluates on: the embedded digits, or --data detected from what is there
(CIFAR-10 batches, IDX files, or a folder with one sub-folder per class)."""
import glob
import os
from dataclasses import dataclass

from .. import datasets
from ..datasets.images import read_images
from ..errors import ClearCNNError
from ..presets import DEFAULT_INPUT

CHANNELS = {"grayscale": 1, "rgb": 3, "rgba": 4}
MODES = {1: "grayscale", 3: "rgb", 4: "rgba"}


@dataclass
class TrainingData:
    name: str
    input_shape: tuple
    class_names: list
    color_mode: str
    train: object
    train_labels: object = None
    validation: object = None
    test: object = None
    test_labels: object = None
    test_count: int = 0
    test_name: str = "test samples"
    default_epochs: int = 10


def detect(path):
    """"cifar", "idx" or "folder" for a --data path, or ClearCNNError."""
    if not os.path.exists(path):
        raise ClearCNNError(f"--data: no such file or folder; received {path!r}.")
    if not os.path.isdir(path):
        raise ClearCNNError(f"--data: must be a folder (of class sub-folders, IDX files or CIFAR-10 batches); "
                            f"received the file {path!r}.")
    names = os.listdir(path)
    if "cifar-10-batches-py" in names or "data_batch_1" in names or "test_batch" in names:
        return "cifar"
    if glob.glob(os.path.join(path, "*-images-idx3-ubyte*")):
        return "idx"
    return "folder"


def _idx_pair(path, prefix):
    images = sorted(glob.glob(os.path.join(path, f"{prefix}*-images-idx3-ubyte*")))
    labels = sorted(glob.glob(os.path.join(path, f"{prefix}*-labels-idx1-ubyte*")))
    return (images[0], labels[0]) if images and labels else None


def load_arrays(path):
    """(name, (x_train, y_train), (x_test, y_test) or None) for CIFAR-10 batches or IDX files."""
    kind = detect(path)
    name = os.path.basename(os.path.normpath(path)) or "data"
    if kind == "cifar":
        (x, y), (xt, yt) = datasets.load_cifar10(path)  # labels (N, 1), as Keras's
        return name, (x, y.ravel()), (xt, yt.ravel())
    train_files = _idx_pair(path, "train") or _idx_pair(path, "")
    test_files = _idx_pair(path, "t10k") or _idx_pair(path, "test")
    if train_files is None:
        raise ClearCNNError(f"--data: {path!r} holds IDX image files but no matching *-labels-idx1-ubyte file.")
    x, y = datasets.load_idx(*train_files)
    test = datasets.load_idx(*test_files) if test_files and test_files != train_files else None
    return name, (x[..., None], y), None if test is None else (test[0][..., None], test[1])


def load_training_data(args):
    if args.data is None:
        (x, y), (xt, yt) = datasets.load_mnist10k()
        # The held-out digits also serve as validation data, as in Keras's MNIST examples: they are
        # never trained on, and the curves then show how well the model generalises epoch by epoch.
        return TrainingData("mnist10k", (28, 28, 1), [str(i) for i in range(10)], "grayscale", x[..., None], y,
                            validation=(xt[..., None], yt), test=xt[..., None], test_labels=yt, test_count=len(xt),
                            test_name="held-out digits", default_epochs=5)
    if detect(args.data) == "folder":
        return _folder_data(args)
    name, (x, y), test = load_arrays(args.data)
    if x.ndim == 3:
        x = x[..., None]
    classes = int(max(y.max(), test[1].max() if test else 0)) + 1
    data = TrainingData(name, x.shape[1:], [str(i) for i in range(classes)], MODES.get(x.shape[-1], "rgb"), x, y)
    if test is not None:
        data.test, data.test_labels, data.test_count = test[0], test[1], len(test[0])
    return data


def _folder_data(args):
    size = args.image_size or (DEFAULT_INPUT["photo"][:2] if getattr(args, "model", None) == "photo" else (32, 32))
    split = args.validation_split if args.validation_split and args.validation_split > 0 else None
    common = dict(image_size=size, color_mode=args.color_mode, batch_size=args.batch_size, seed=args.seed)
    if split:
        train, validation = datasets.image_dataset_from_directory(args.data, validation_split=split, subset="both",
                                                                  **common)
    else:
        train, validation = datasets.image_dataset_from_directory(args.data, **common), None
    name = os.path.basename(os.path.normpath(args.data)) or "images"
    data = TrainingData(name, (*size, CHANNELS[args.color_mode]), list(train.class_names), args.color_mode, train,
                        validation=validation, default_epochs=10)
    if validation is not None:
        data.test, data.test_count, data.test_name = validation, len(validation.file_paths), "validation images"
    return data


def load_evaluation_data(path, model, batch_size=32):
    """(x, y, count) matching the model's input: the embedded test digits, arrays, or an image folder."""
    if path is None:
        _, (x, y) = datasets.load_mnist10k()
        return x[..., None], y, len(x)
    if detect(path) == "folder":
        h, w, c = model.input_shape[1:]
        data = datasets.image_dataset_from_directory(path, image_size=(h, w), color_mode=MODES[c], shuffle=False,
                                                     class_names=model.metadata.get("class_names"),
                                                     batch_size=batch_size)
        return data, None, len(data.file_paths)
    _, train, test = load_arrays(path)
    x, y = test if test is not None else train
    return (x[..., None] if x.ndim == 3 else x), y, len(x)


def read_images_for(model, paths):
    """Read image files converted and resized to the model's input, as float32 0-255."""
    for path in paths:
        if not os.path.isfile(path):
            raise ClearCNNError(f"predict: no such image file; received {path!r}.")
    h, w, c = model.input_shape[1:]
    return read_images(paths, (h, w), MODES[c], where="predict")
