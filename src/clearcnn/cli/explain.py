"""The `explain`, `shapes`, `show` and `report` subcommands: the arithmetic of one value, the shape walk,
pictures, and the HTML report."""
import os
import re

import numpy as np

from ..errors import ClearCNNError
from ..explain import colour_example, grayscale_example, parse_spec, pictures, walk
from ..explain import explain as explain_value
from ..explain.report import build_report
from ..layers import Conv2D
from ..models import load_model
from ..presets import PRESETS, build_preset
from ..saving.files import write_atomically
from . import data as cli_data
from .train import check_output, positive_int


def add_parsers(commands):
    explain = commands.add_parser("explain", help="the arithmetic of one output value, step by step")
    explain.add_argument("model", nargs="?", help="a saved model (default: the built-in worked examples)")
    explain.add_argument("--image", help="an image file to feed the model")
    explain.add_argument("--layer", help="layer name or index (default: the first conv layer)")
    explain.add_argument("--row", type=int, default=0)
    explain.add_argument("--col", type=int, default=0)
    explain.add_argument("--filter", "--unit", type=int, default=0, dest="filter",
                         help="filter (conv), channel (pooling and others) or unit (dense, flatten) index")

    shapes = commands.add_parser("shapes", help="walk a network's shapes with the formula filled in")
    shapes.add_argument("network", help="a saved model, a preset (default, seed, cifar) or a spec such as "
                                        "'32x32x3 | conv 6 3 | maxpool 3 1 | flatten | dense 3'")
    show = commands.add_parser("show", help="pictures: kernels, feature maps, training curves, confusion matrix")
    show.add_argument("what", choices=["kernels", "features", "history", "confusion"])
    show.add_argument("source", help="a saved model (a CSV log also works for history)")
    show.add_argument("image", nargs="?", help="the image for `features`")
    show.add_argument("--layer", help="conv layer name for `kernels` (default: the first)")
    show.add_argument("--data", help="data for `confusion` (default: the embedded test digits)")
    show.add_argument("--output", "-o", required=True, help="the PNG file to write")

    report = commands.add_parser("report", help="one self-contained HTML report of a model on data")
    report.add_argument("model", help="a saved model")
    report.add_argument("--image", help="the image to explore, cell by cell (default: the first sample of the data)")
    report.add_argument("--data", help="data as for evaluate (default: the embedded test digits)")
    report.add_argument("--samples", type=positive_int, default=2000, help="at most this many samples (default 2000)")
    report.add_argument("--output", "-o", default="report.html")
    return {"explain": run_explain, "shapes": run_shapes, "show": run_show, "report": run_report}


def run_explain(args):
    if args.model is None:
        print(grayscale_example())
        print()
        print(colour_example())
        return
    model = load_model(args.model)
    if args.image is None:
        raise ClearCNNError("explain: argument `--image` is required with a model; received none.")
    image = cli_data.read_images_for(model, [args.image])[0]
    layer = layer_argument(args.layer)
    if layer is None:
        layer = next((l.name for l in model.layers if isinstance(l, Conv2D)), None)
        if layer is None:
            raise ClearCNNError(f"explain: {args.model!r} has no Conv2D layer to explain by default; pass --layer "
                                f"with the name or index of another layer.")
    print(explain_value(model, image, layer, args.row, args.col, args.filter))


def layer_argument(text):
    """--layer: an index ("2", "-1": from the end) or a layer name."""
    return int(text) if text is not None and re.fullmatch(r"-?\d+", text) else text


def load_network(text):
    """(input_shape, layers) from a model file, a preset name or a one-line spec."""
    if os.path.exists(text):
        model = load_model(text)
        return model.input_shape[1:], model.layers
    if text in PRESETS:
        model = build_preset(text)
        return model.input_shape[1:], model.layers
    return parse_spec(text)


def run_shapes(args):
    input_shape, layers = load_network(args.network)
    print("\n".join(walk(input_shape, layers)))


def evaluation_arrays(model, data, limit):
    """Up to `limit` samples as arrays (x, y), from any data the evaluate command accepts."""
    x, y, _ = cli_data.load_evaluation_data(data, model)
    if y is not None:
        return x[:limit], np.asarray(y)[:limit]
    xs, ys, count = [], [], 0
    for xb, yb in x:
        xs.append(xb)
        ys.append(yb)
        count += len(xb)
        if count >= limit:
            break
    return np.concatenate(xs)[:limit], np.concatenate(ys)[:limit]


def run_show(args):
    formats = pictures.image_formats()
    check_output(args.output, f"show {args.what}", f"a picture file name ending in .{', .'.join(formats)}",
                 lambda path: os.path.splitext(path)[1].lower().lstrip(".") in formats)
    if args.what == "history" and args.source.lower().endswith(".csv"):
        figure = pictures.plot_history(args.source)
    else:
        model = load_model(args.source)
        if args.what == "kernels":
            figure = pictures.plot_kernels(model, layer_argument(args.layer))
        elif args.what == "features":
            if args.image is None:
                raise ClearCNNError("show features: argument `image` is required; received none.")
            figure = pictures.plot_feature_maps(model, cli_data.read_images_for(model, [args.image])[0])
        elif args.what == "history":
            if not model.metadata.get("history"):
                raise ClearCNNError(f"show history: {args.source!r} holds no training history; pass the CSV "
                                    f"file of a CSVLogger instead.")
            figure = pictures.plot_history(model.metadata["history"])
        else:
            x, y = evaluation_arrays(model, args.data, 10 ** 9)
            names = model.metadata.get("class_names") or [str(i) for i in range(model.output_shape[-1])]
            figure = pictures.plot_confusion(y, model.predict(x, verbose=0).argmax(-1), names)
    pictures.save(figure, args.output)
    print(f"Wrote {args.output}")


def run_report(args):
    check_output(args.output, "report")
    model = load_model(args.model)
    image = caption = None
    if args.image is not None:
        image = cli_data.read_images_for(model, [args.image])[0]
        caption = f"The image {os.path.basename(args.image)}."
    if args.data is None and tuple(model.input_shape[1:]) != DIGITS_SHAPE:
        # The embedded digits are the only data known without --data; they fit only digit models.
        if image is None:
            raise ClearCNNError(f"report: model {model.name!r} takes {shape_text(model.input_shape)} inputs and the "
                                f"embedded digits are {shape_text((None, *DIGITS_SHAPE))}; pass --data with data like "
                                f"what it was trained on, or --image PHOTO to explore one image.")
        x = y = None
    else:
        x, y = evaluation_arrays(model, args.data, args.samples)
    page = build_report(model, x, y, model.metadata.get("class_names"), model.metadata.get("history"),
                        image=image, image_caption=caption)
    write_atomically(args.output, lambda file: file.write(page.encode("utf-8")))
    size = len(page.encode("utf-8"))
    print(f"Wrote {args.output} ({size / 1e6:.1f} MB)" if size >= 1e6 else f"Wrote {args.output} ({size / 1e3:.0f} kB)")


DIGITS_SHAPE = (28, 28, 1)


def shape_text(shape):
    return "x".join(str(d) for d in shape[1:])
