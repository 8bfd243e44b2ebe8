"""Waiting for another thread without sleeping and without the interpreter's lock: the engine's workers watch
for their next part this way for a moment before they sleep, and the calling thread so waits for theirs,
because waking a sleeping thread takes longer than a short part's work.

A signal is a count in an int64 array that one thread raises and another watches. The watcher reads it with
an atomic load: a plain load the compiler may hoist out of the loop, which would then never see the change."""
import platform

from llvmlite import ir
from numba import types
from numba.core import cgutils
from numba.extending import intrinsic

from . import jit

# x86's `pause` tells the core that this is a wait loop: it spends less power, and a sibling hyper-thread
# runs faster meanwhile. Elsewhere the loop simply reads.
_PAUSE = platform.machine().lower() in ("x86_64", "amd64", "i386", "i686", "x86")


@intrinsic
def _load_acquire(typingctx, counts, index):
    def codegen(context, builder, signature, arguments):
        array = context.make_array(signature.args[0])(context, builder, arguments[0])
        return builder.load_atomic(builder.gep(array.data, [arguments[1]]), "acquire", 8)
    return types.int64(counts, types.int64), codegen


@intrinsic
def _store_release(typingctx, counts, index, value):
    def codegen(context, builder, signature, arguments):
        array = context.make_array(signature.args[0])(context, builder, arguments[0])
        builder.store_atomic(arguments[2], builder.gep(array.data, [arguments[1]]), "release", 8)
        return context.get_dummy_value()
    return types.void(counts, types.int64, types.int64), codegen


@intrinsic
def _pause(typingctx):
    def codegen(context, builder, signature, arguments):
        if _PAUSE:
            pause = cgutils.get_or_insert_function(builder.module, ir.FunctionType(ir.VoidType(), []),
                                                   "llvm.x86.sse2.pause")
            builder.call(pause, [])
        return context.get_dummy_value()
    return types.void(), codegen


@jit
def wait_for_change(counts, index, seen, looks, then):
    """True once counts[index] differs from `seen`, after `then` pauses more; False after `looks` looks that
    found no change."""
    for _ in range(looks):
        if _load_acquire(counts, index) != seen:
            for _ in range(then):
                _pause()
            return True
        _pause()
    return False


@jit
def answer_and_wait(counts, answer, value, index, seen, looks, then):
    """counts[answer] = value, then wait_for_change: the answer is given outside the interpreter's lock, so that
    the thread that waits for it finds that lock free."""
    _store_release(counts, answer, value)
    return wait_for_change(counts, index, seen, looks, then)
