"""Where a clearcnn training step spends its time: each layer's forward and backward pass, the optimizer's step,
and the rest (Python around them), medians over repeated steps of one of bench.py's workloads.

    python bench/layer_times.py seed --batch 64 [--optimizer adam] [--steps 30]
"""
import argparse
import statistics
import sys
import time
from collections import defaultdict
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench import BATCH, clearcnn_model, data  # noqa: E402


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("workload", choices=sorted(BATCH))
    parser.add_argument("--batch", type=int)
    parser.add_argument("--optimizer", default="sgd", choices=("sgd", "adam"))
    parser.add_argument("--steps", type=int, default=30)
    args = parser.parse_args()
    from clearcnn import ops

    model = clearcnn_model(args.workload, args.optimizer)
    x, y = data(args.workload, args.batch or BATCH[args.workload])
    model.train_on_batch(x, y)
    times = defaultdict(list)

    def timed(name, function):
        def wrapper(*a, **k):
            start = time.perf_counter()
            result = function(*a, **k)
            times[name].append(time.perf_counter() - start)
            return result
        return wrapper

    for layer in model.layers:
        layer.forward = timed(f"{layer.name} forward", layer.forward)
        layer.backward = timed(f"{layer.name} backward", layer.backward)
    model.optimizer.apply = timed("optimizer step", model.optimizer.apply)
    steps = []
    for _ in range(args.steps):
        start = time.perf_counter()
        model.train_on_batch(x, y)
        steps.append(time.perf_counter() - start)
    step = statistics.median(steps)
    print(f"{args.workload}, batch {len(x)}, {args.optimizer}, backend {ops.get_backend()}: step {1e3 * step:.2f} ms "
          f"(median of {args.steps}), {len(x) / step:.0f} images/s")
    accounted = 0.0
    for name, values in times.items():
        median = statistics.median(values)
        accounted += median
        print(f"  {name:32s} {1e3 * median:8.3f} ms  {median / step:6.1%}")
    print(f"  {'the rest':32s} {1e3 * (step - accounted):8.3f} ms  {(step - accounted) / step:6.1%}")


if __name__ == "__main__":
    main()
