"""Pictures: kernels, feature maps, training curves, a confusion matrix, misclassified examples.

Each function returns a matplotlib Figure (made without pyplot, so no window and no global state);
`save(figure, path)` writes it. matplotlib is an optional extra: pip install "clearcnn[plots]".
"""
import csv
import math

import numpy as np

from ..errors import ClearCNNError
from ..layers import AveragePooling2D, Conv2D, MaxPooling2D

PLOTS_NEEDED = 'pictures need matplotlib: pip install "clearcnn[plots]"'


def image_formats():
    """The file name extensions that save() writes: matplotlib's (png, pdf, svg, ...)."""
    try:
        from matplotlib.backend_bases import FigureCanvasBase
    except ImportError:
        raise ClearCNNError(PLOTS_NEEDED) from None
    return sorted(FigureCanvasBase.get_supported_filetypes())


def _figure(rows, cols, panel=1.6, title=None):
    try:
        from matplotlib.figure import Figure
    except ImportError:
        raise ClearCNNError(PLOTS_NEEDED) from None
    figure = Figure(figsize=(max(3.0, cols * panel), max(2.0, rows * panel + (0.5 if title else 0))),
                    layout="constrained")
    if title:
        figure.suptitle(title)
    return figure


def save(figure, path):
    figure.savefig(path, dpi=90)
    return path


def _panels(figure, rows, cols, count):
    axes = [figure.add_subplot(rows, cols, i + 1) for i in range(count)]
    for ax in axes:
        ax.set_xticks([])
        ax.set_yticks([])
    return axes


def _conv_layer(model, layer):
    if layer is None:
        layer = next((l for l in model.layers if isinstance(l, Conv2D)), None)
    elif isinstance(layer, (str, int)):
        layer = model.get_layer(name=layer) if isinstance(layer, str) else model.get_layer(index=layer)
    if not isinstance(layer, Conv2D):
        raise ClearCNNError(f"kernels: argument `layer` must name a Conv2D layer; received {layer!r}.")
    return layer


def plot_kernels(model, layer=None, max_filters=32, max_channels=8):
    """The 2-D kernels of a conv layer: one row per filter and one column per input channel, or a
    square grid when there is one channel. Red is positive, blue negative; large layers show their first
    `max_filters` x `max_channels` kernels."""
    layer = _conv_layer(model, layer)
    kernel = layer.kernel.value  # (kh, kw, in, filters)
    _, _, channels, filters = kernel.shape
    shown_f, shown_c = min(filters, max_filters), min(channels, max_channels)
    limit = np.abs(kernel).max() or 1.0
    title = f"{layer.name}: {filters} filters x {channels} channels = {filters * channels} kernels"
    if (shown_f, shown_c) != (filters, channels):
        title += f" (first {shown_f} x {shown_c} shown)"
    if shown_c == 1:
        cols = math.ceil(math.sqrt(shown_f))
        rows = math.ceil(shown_f / cols)
    else:
        rows, cols = shown_f, shown_c
    figure = _figure(rows, max(cols, 4), panel=0.9, title=title)
    for f in range(shown_f):
        for c in range(shown_c):
            index = f if shown_c == 1 else f * shown_c + c
            ax = figure.add_subplot(rows, cols, index + 1)
            ax.imshow(kernel[:, :, c, f], cmap="bwr", vmin=-limit, vmax=limit)
            ax.set_xticks([])
            ax.set_yticks([])
            if shown_c == 1:
                ax.set_title(f"filter {f}", fontsize=7)
            else:
                if c == 0:
                    ax.set_ylabel(f"filter {f}", fontsize=7)
                if f == 0:
                    ax.set_title(f"channel {c}", fontsize=7)
    return figure


def feature_maps(model, image):
    """[(layer, maps (H, W, C))] for every conv and pooling layer, for one (H, W, C) image."""
    return [(layer, output[0]) for layer, output in model.layer_outputs(np.asarray(image)[None])
            if isinstance(layer, (Conv2D, MaxPooling2D, AveragePooling2D))]


def plot_feature_maps(model, image, max_maps=8):
    """One row per conv or pooling layer, up to `max_maps` channels each."""
    maps = feature_maps(model, image)
    if not maps:
        raise ClearCNNError(f"features: model {model.name!r} has no conv or pooling layer to show.")
    cols = min(max_maps, max(m.shape[-1] for _, m in maps))
    figure = _figure(len(maps), cols, panel=1.3, title="feature maps")
    for row, (layer, m) in enumerate(maps):
        for c in range(min(cols, m.shape[-1])):
            ax = figure.add_subplot(len(maps), cols, row * cols + c + 1)
            ax.imshow(m[:, :, c], cmap="viridis")
            ax.set_xticks([])
            ax.set_yticks([])
            if c == 0:
                ax.set_ylabel(f"{layer.name}\n{m.shape[0]}x{m.shape[1]}", fontsize=7)
    return figure


def read_history(source):
    """{"loss": [...], ...} from a History, a dict, or a CSVLogger file."""
    if hasattr(source, "history"):
        return dict(source.history)
    if isinstance(source, dict):
        return dict(source)
    try:
        with open(source, newline="") as file:
            rows = list(csv.DictReader(file))
    except OSError as error:
        raise ClearCNNError(f"history: cannot read the CSV log {source!r} ({error}).") from None
    if not rows:
        raise ClearCNNError(f"history: the CSV log {source!r} holds no epochs.")
    return {key: [float(row[key]) for row in rows] for key in rows[0] if key != "epoch"}


def plot_history(source):
    """Training curves: one panel per quantity (loss, accuracy, ...), training and validation together."""
    history = read_history(source)
    names = [k for k in history if not k.startswith("val_")]
    if not names:
        raise ClearCNNError("history: nothing to plot; expected keys such as 'loss' and 'val_loss'.")
    names.sort(key=lambda k: (k != "loss", k))
    figure = _figure(1, len(names), panel=3.2, title="training curves")
    for index, name in enumerate(names):
        ax = figure.add_subplot(1, len(names), index + 1)
        epochs = np.arange(1, len(history[name]) + 1)
        ax.plot(epochs, history[name], marker="o", label="training")
        if f"val_{name}" in history:
            ax.plot(epochs, history[f"val_{name}"], marker="o", label="validation")
        ax.set_xlabel("epoch")
        ax.set_title(name)
        ax.legend()
    return figure


def confusion_matrix(y_true, y_pred, classes):
    matrix = np.zeros((classes, classes), dtype=np.int64)
    np.add.at(matrix, (np.asarray(y_true, dtype=np.int64), np.asarray(y_pred, dtype=np.int64)), 1)
    return matrix


def plot_confusion(y_true, y_pred, class_names):
    """Counts of (true class, predicted class), with the counts written in the cells."""
    matrix = confusion_matrix(y_true, y_pred, len(class_names))
    size = max(3.5, 0.5 * len(class_names) + 1.5)
    figure = _figure(1, 1, panel=size, title=f"confusion matrix, accuracy {np.trace(matrix) / matrix.sum():.2%}")
    ax = figure.add_subplot(1, 1, 1)
    ax.imshow(matrix, cmap="Blues")
    ticks = range(len(class_names))
    ax.set_xticks(ticks, class_names, rotation=45, ha="right")
    ax.set_yticks(ticks, class_names)
    ax.set_xlabel("predicted")
    ax.set_ylabel("true")
    threshold = matrix.max() / 2
    for (i, j), count in np.ndenumerate(matrix):
        ax.text(j, i, str(count), ha="center", va="center", color="white" if count > threshold else "black")
    return figure


def plot_examples(images, titles, columns=8):
    """A grid of images (N, H, W, C) with a title each, e.g. misclassified samples."""
    count = len(images)
    if count == 0:
        raise ClearCNNError("examples: no images to show.")
    cols = min(columns, count)
    rows = math.ceil(count / cols)
    figure = _figure(rows, cols, panel=1.4)
    for ax, image, title in zip(_panels(figure, rows, cols, count), images, titles):
        image = np.asarray(image, dtype=np.float64)
        span = image.max() - image.min()
        image = (image - image.min()) / (span or 1)
        ax.imshow(image[:, :, 0] if image.shape[-1] == 1 else image[:, :, :3], cmap="gray")
        ax.set_title(title, fontsize=7)
    return figure
