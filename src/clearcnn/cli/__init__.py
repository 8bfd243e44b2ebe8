"""The command line: `clearcnn train | evaluate | predict | summary | explain | shapes | show | report | export`.

Exit status: 0 on success, 2 on a usage error, 1 on any other error. Errors print one line on stderr;
`--debug` adds the traceback.
"""
import argparse
import contextlib
import os
import sys
import traceback

from .. import distribution
from ..errors import ClearCNNError
from . import explain, export, train

EPILOG = """examples:
  clearcnn train                                  train the default CNN on the embedded MNIST digits
  clearcnn train --data photos/ --model seed --image-size 32
  clearcnn evaluate mnist10k.clearcnn --data photos/
  clearcnn predict model.clearcnn cat.jpg dog.png
  clearcnn summary seed
  clearcnn explain                                the built-in worked example, step by step
  clearcnn shapes "32x32x3 | conv 6 3 | maxpool 3 1 | flatten | dense 3"
  clearcnn show kernels model.clearcnn -o kernels.png
  clearcnn report model.clearcnn --image digit.png -o report.html
  clearcnn export model.clearcnn -o model.onnx    for ONNX Runtime (needs: pip install "clearcnn[onnx]")
"""


def build_parser():
    parser = argparse.ArgumentParser(prog="clearcnn", description="Train, inspect and run convolutional networks.",
                                     epilog=EPILOG, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--debug", action="store_true", help="show tracebacks on errors")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    parser.handlers = {**train.add_parsers(commands), **explain.add_parsers(commands), **export.add_parsers(commands)}
    for command in commands.choices.values():  # --debug also after the command; SUPPRESS keeps one given before
        command.add_argument("--debug", action="store_true", default=argparse.SUPPRESS,
                             help="show tracebacks on errors")
    return parser


def main(argv=None):
    parser = build_parser()
    args = parser.parse_args(argv)  # exits with status 2 on a usage error
    ranks = None
    try:
        with contextlib.ExitStack() as stack:
            if distribution.launched_with_several_ranks():  # under mpiexec: data-parallel, rank 0 prints
                ranks = distribution.DataParallel()
                stack.enter_context(distribution.set_distribution(ranks))
                if ranks.rank:
                    stack.enter_context(contextlib.redirect_stdout(open(os.devnull, "w")))
            parser.handlers[args.command](args)
        return 0
    except KeyboardInterrupt:
        print("clearcnn: interrupted", file=sys.stderr)
        return 130
    except Exception as error:  # one clear line for users; the traceback on request
        if args.debug:
            traceback.print_exc()
        kind = "" if isinstance(error, (ClearCNNError, OSError)) else f"{type(error).__name__}: "
        where = f" (rank {ranks.rank} of {ranks.size})" if ranks is not None else ""
        print(f"clearcnn: error{where}: {kind}{error}", file=sys.stderr, flush=True)
        if ranks is not None:  # the other ranks would wait for this one forever
            ranks.replicas.comm.Abort(1)
        return 1
