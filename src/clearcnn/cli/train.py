"""The `train`, `evaluate`, `predict` and `summary` subcommands."""
import argparse
import os
import tempfile

import numpy as np

from .. import ops
from ..errors import ClearCNNError, fail
from ..models import load_model
from ..optimizers import Adam
from ..presets import DEFAULT_INPUT, LEARNING_RATES, PRESETS, build_preset
from ..saving import api as saving
from ..schedules import CosineDecay
from ..utils import set_random_seed
from . import data as cli_data


def parse_image_size(text):
    """"32" or "32x48" -> (32, 32) or (32, 48)."""
    try:
        parts = [int(p) for p in text.lower().split("x")]
    except ValueError:
        parts = []
    if len(parts) not in (1, 2) or min(parts) <= 0:
        raise argparse.ArgumentTypeError(f"must be N or HxW with positive integers, e.g. 32 or 32x48; received {text!r}")
    return (parts[0], parts[-1])


def _integer(text, low, kind):
    try:
        value = int(text)
    except ValueError:
        value = None
    if value is None or value < low:
        raise argparse.ArgumentTypeError(f"must be a {kind} integer; received {text!r}")
    return value


def positive_int(text):
    return _integer(text, 1, "positive")


def non_negative_int(text):
    return _integer(text, 0, "non-negative")


def fraction(text):
    try:
        value = float(text)
    except ValueError:
        value = None
    if value is None or not 0 <= value < 1:
        raise argparse.ArgumentTypeError(f"must be a fraction from 0 (none) to below 1, e.g. 0.2; received {text!r}")
    return value


def positive_float(text):
    try:
        value = float(text)
    except ValueError:
        value = None
    if value is None or not 0 < value < float("inf"):
        raise argparse.ArgumentTypeError(f"must be a positive number, e.g. 0.001; received {text!r}")
    return value


def check_output(path, command, expected="", writes=lambda path: True):
    """Refuse an --output that cannot be written before any work is done (training, evaluating): a folder, a name
    whose format `writes` refuses, or a folder that does not exist or cannot be written to (tried by creating a
    temporary file there, as saving does)."""
    if os.path.isdir(path):
        fail(command, "--output", path, "a file name, not a folder")
    if not writes(path):
        fail(command, "--output", path, expected)
    folder = os.path.dirname(os.path.abspath(path))
    if not os.path.isdir(folder):
        fail(command, "--output", path, "a file name in an existing folder")
    try:
        with tempfile.NamedTemporaryFile(dir=folder, prefix=".clearcnn-check-"):
            pass
    except OSError as error:
        fail(command, "--output", path, f"a file name in a folder that can be written to ({folder}: {error.strerror})")


def add_parsers(commands):
    train = commands.add_parser("train", help="train a model (default: the embedded MNIST digits)")
    train.add_argument("--data", help="a folder with one sub-folder per class, IDX files, or CIFAR-10 batches")
    train.add_argument("--model", choices=list(PRESETS), help="network preset (photo: for your own photos, with "
                                                               "augmentation and batch normalization)")
    train.add_argument("--image-size", type=parse_image_size, help="resize images to N or HxW (folders only; default "
                                                                   "32, 128 for --model photo)")
    train.add_argument("--color-mode", choices=["rgb", "grayscale", "rgba"], default="rgb",
                       help="channels for image folders (default rgb)")
    train.add_argument("--epochs", type=positive_int, help="passes over the training data")
    train.add_argument("--batch-size", type=positive_int, default=32)
    train.add_argument("--learning-rate", type=positive_float, help="Adam's learning rate at the start, from which "
                       "it decays to zero along a cosine (default 0.003 for the digits' preset, else 0.001)")
    train.add_argument("--validation-split", type=fraction, default=0.2,
                       help="fraction of an image folder held out for validation (default 0.2)")
    train.add_argument("--output", "-o", help="where to save the model (default: NAME.clearcnn)")
    train.add_argument("--seed", type=non_negative_int, default=1337, help="random seed (default 1337)")

    evaluate = commands.add_parser("evaluate", help="loss and accuracy of a saved model on data")
    evaluate.add_argument("model", help="a saved .clearcnn model")
    evaluate.add_argument("--data", help="data as for train (default: the embedded test digits)")
    evaluate.add_argument("--batch-size", type=positive_int, default=32)

    predict = commands.add_parser("predict", help="classify image files")
    predict.add_argument("model", help="a saved .clearcnn model")
    predict.add_argument("images", nargs="+", metavar="IMAGE")
    predict.add_argument("--top", type=positive_int, default=3, help="classes to show per image (default 3)")

    summary = commands.add_parser("summary", help="layers, shapes and parameter counts of a model or preset")
    summary.add_argument("model", help=f"a saved .clearcnn model, or a preset: {', '.join(PRESETS)}")
    summary.add_argument("--image-size", type=parse_image_size, help="input size for a preset")
    summary.add_argument("--classes", type=positive_int, help="number of classes for a preset")
    return {"train": run_train, "evaluate": run_evaluate, "predict": run_predict, "summary": run_summary}


def run_train(args):
    set_random_seed(args.seed)
    data = cli_data.load_training_data(args)
    output = args.output or f"{data.name}.clearcnn"
    check_output(output, "train", "a name ending in .clearcnn or .keras (.h5 files are read, not written)",
                 saving.writable)
    preset = args.model or ("default" if data.name == "mnist10k" else "seed")
    model = build_preset(preset, data.input_shape, len(data.class_names))
    model.metadata = {"class_names": data.class_names, "color_mode": data.color_mode, "preset": preset}
    epochs = args.epochs or data.default_epochs
    steps = epochs * (len(data.train) if data.train_labels is None else -(-len(data.train) // args.batch_size))
    rate = args.learning_rate or LEARNING_RATES[preset]
    model.compile(optimizer=Adam(CosineDecay(rate, steps)), loss="sparse_categorical_crossentropy",
                  metrics=["accuracy"])
    model.summary()
    print(f"Engine: {ops.describe()}")
    # Validation only predicts: larger batches than training's are as exact and quicker.
    history = model.fit(data.train, data.train_labels, batch_size=args.batch_size, epochs=epochs,
                        validation_data=data.validation, validation_batch_size=max(args.batch_size, 256))
    model.metadata["history"] = history.history
    if data.test is not None:
        loss, accuracy = model.evaluate(data.test, data.test_labels, batch_size=256, verbose=0)
        count = data.test_count
        print(f"Test accuracy: {accuracy:.4f} ({round(accuracy * count)}/{count} {data.test_name}), "
              f"loss {loss:.4f}")
    model.save(output)
    print(f"Saved the model to {output}")


def run_evaluate(args):
    model = load_model(args.model)
    x, y, count = cli_data.load_evaluation_data(args.data, model, args.batch_size)
    loss, accuracy = model.evaluate(x, y, batch_size=args.batch_size)
    print(f"Accuracy: {accuracy:.4f} on {count} samples, loss {loss:.4f}")


def run_predict(args):
    model = load_model(args.model)
    names = model.metadata.get("class_names") or [str(i) for i in range(model.output_shape[-1])]
    images = cli_data.read_images_for(model, args.images)
    probabilities = model.predict(images, verbose=0)
    for path, row in zip(args.images, probabilities):
        best = np.argsort(row)[::-1][:args.top]
        print(f"{path}: " + ", ".join(f"{names[i]} {row[i]:.1%}" for i in best))


def run_summary(args):
    if os.path.exists(args.model):
        model = load_model(args.model)
    elif args.model in PRESETS:
        input_shape = None
        if args.image_size:
            input_shape = (*args.image_size, DEFAULT_INPUT[args.model][2])
        model = build_preset(args.model, input_shape, args.classes)
    else:
        raise ClearCNNError(f"summary: argument `model` must be a model file or one of {', '.join(PRESETS)}; "
                            f"received {args.model!r} (no such file).")
    model.summary(show_kernels=True)
