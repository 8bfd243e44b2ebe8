"""The `export` subcommand: a saved model as an ONNX file for ONNX Runtime and other runtimes."""
import os

from ..models import load_model
from ..saving.onnx import DEFAULT_OPSET
from .train import check_output, positive_int


def add_parsers(commands):
    export = commands.add_parser("export", help="write a saved model as ONNX, for ONNX Runtime and other runtimes")
    export.add_argument("model", help="a saved model (.clearcnn or .keras)")
    export.add_argument("--output", "-o", help="the .onnx file to write (default: the model's name with .onnx)")
    export.add_argument("--opset", type=positive_int, default=DEFAULT_OPSET,
                        help=f"ONNX opset version, 13 or newer (default {DEFAULT_OPSET})")
    return {"export": run_export}


def run_export(args):
    output = args.output or os.path.splitext(args.model)[0] + ".onnx"
    check_output(output, "export", "a name ending in .onnx", lambda path: path.lower().endswith(".onnx"))
    model = load_model(args.model)
    model.export(output, format="onnx", opset=args.opset)
    print(f"Saved the ONNX model to {output}")
