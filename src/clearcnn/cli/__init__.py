"""The command line: `clearcnn train | evaluate | predict | summary | explain | shapes | show | report`.

Exit status: 0 on success, 2 on a usage error, 1 on any other error. Errors print one line on stderr;
`--debug` adds the traceback.
"""
import argparse
import sys
import traceback

from ..errors import ClearCNNError
from . import explain, train

EPILOG = """examples:
  clearcnn train                                  train the default CNN on the embedded MNIST digits
  clearcnn train --data photos/ --model seed --image-size 32
  clearcnn evaluate mnist10k.clearcnn --data photos/
  clearcnn predict model.clearcnn cat.jpg dog.png
  clearcnn summary seed
  clearcnn explain                                the built-in worked example, step by step
  clearcnn shapes "32x32x3 | conv 6 3 | maxpool 3 1 | flatten | dense 3"
  clearcnn show kernels model.clearcnn -o kernels.png
  clearcnn report model.clearcnn -o report.html
"""


def build_parser():
    parser = argparse.ArgumentParser(prog="clearcnn", description="Train, inspect and run convolutional networks.",
                                     epilog=EPILOG, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--debug", action="store_true", help="show tracebacks on errors")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    parser.handlers = {**train.add_parsers(commands), **explain.add_parsers(commands)}
    for command in commands.choices.values():  # --debug also after the command; SUPPRESS keeps one given before
        command.add_argument("--debug", action="store_true", default=argparse.SUPPRESS,
                             help="show tracebacks on errors")
    return parser


def main(argv=None):
    parser = build_parser()
    args = parser.parse_args(argv)  # exits with status 2 on a usage error
    try:
        parser.handlers[args.command](args)
        return 0
    except KeyboardInterrupt:
        print("clearcnn: interrupted", file=sys.stderr)
        return 130
    except Exception as error:  # one clear line for users; the traceback on request
        if args.debug:
            traceback.print_exc()
        kind = "" if isinstance(error, (ClearCNNError, OSError)) else f"{type(error).__name__}: "
        print(f"clearcnn: error: {kind}{error}", file=sys.stderr)
        return 1
