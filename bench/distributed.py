"""Data-parallel scaling: CIFAR-CNN trained with 1 and 2 ranks on this machine, one thread per rank (BLAS and
the engine's pool), the same global batch; images/s, scaling efficiency, and one Allreduce of the model's
gradients against one training step. From those, what K machines would give.

    python bench/distributed.py              # launches itself under mpiexec with 1 and 2 ranks
    python bench/distributed.py --smoke      # a few steps, to check that it runs

Needs the mpi extra (pip install "clearcnn[mpi]"). Results also go to bench/results/distributed.json.
"""
import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent


def rank_main(args):
    from clearcnn import distribution, ops
    from clearcnn.optimizers import SGD
    from clearcnn.presets import build_preset
    from clearcnn.utils import set_random_seed

    strategy = distribution.DataParallel()
    ops.set_num_threads(1)
    distribution.set_distribution(strategy)
    set_random_seed(0)
    model = build_preset("cifar")
    model.compile(optimizer=SGD(0.01, momentum=0.9), loss="sparse_categorical_crossentropy")
    rng = np.random.default_rng(0)
    x = rng.integers(0, 256, (args.batch, 32, 32, 3)).astype("float32")
    y = rng.integers(0, 10, args.batch)
    model.train_on_batch(x, y)  # compiles, builds the optimizer's state
    steps = []
    for _ in range(args.steps):
        start = time.perf_counter()
        model.train_on_batch(x, y)
        steps.append(time.perf_counter() - start)
    reductions = []
    for _ in range(args.steps):
        strategy.replicas.comm.Barrier()
        start = time.perf_counter()
        strategy.replicas.sum_gradients(model.trainable_weights)
        reductions.append(time.perf_counter() - start)
    if strategy.rank == 0:
        step, reduce = statistics.median(steps), statistics.median(reductions)
        print(json.dumps({"ranks": strategy.size, "batch": args.batch, "step_s": step, "allreduce_s": reduce,
                          "images_per_s": args.batch / step,
                          "gradient_bytes": sum(w.value.nbytes for w in model.trainable_weights)}))


def launch(ranks, args):
    mpiexec = shutil.which("mpiexec", path=f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}")
    command = [mpiexec, "-n", str(ranks), sys.executable, "-m", "mpi4py", __file__, "--rank",
               "--steps", str(args.steps), "--batch", str(args.batch)]
    result = subprocess.run(command, capture_output=True, text=True, timeout=1800)
    if result.returncode:
        sys.exit(f"{ranks} ranks failed:\n{result.stdout}{result.stderr}")
    return json.loads(result.stdout.strip().splitlines()[-1])


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rank", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--steps", type=int, default=30)
    parser.add_argument("--batch", type=int, default=64, help="the global batch")
    parser.add_argument("--smoke", action="store_true")
    args = parser.parse_args()
    if args.rank:
        return rank_main(args)
    try:
        import mpi4py  # noqa: F401
    except ImportError:
        print("bench/distributed.py: skipped, the mpi extra is not installed (pip install \"clearcnn[mpi]\")")
        return
    if args.smoke:
        args.steps, args.batch = 2, 8
    sys.path.insert(0, str(HERE))
    from alone import cpu_description
    machine = cpu_description()
    print(f"CPU {machine['cpu']}, {machine['cores']} cores, {' '.join(machine['vector_extensions'])}; CIFAR-CNN, "
          f"SGD with momentum, global batch {args.batch}, one thread per rank, median of {args.steps} steps")
    results = [launch(ranks, args) for ranks in (1, 2)]
    one = results[0]["images_per_s"]
    print("| ranks | images/s | scaling efficiency | step (ms) | Allreduce of the gradients (ms) | share of a step |")
    print("|---|---|---|---|---|---|")
    for r in results:
        efficiency = r["images_per_s"] / (one * r["ranks"])
        print(f"| {r['ranks']} | {r['images_per_s']:.0f} | {efficiency:.2f} | {1e3 * r['step_s']:.1f} | "
              f"{1e3 * r['allreduce_s']:.2f} | {r['allreduce_s'] / r['step_s']:.1%} |")
    megabytes = results[0]["gradient_bytes"] / 2**20
    step = results[0]["step_s"]
    print(f"Gradients: {megabytes:.1f} MB per step. Between K machines a ring Allreduce moves about 2·N·(K−1)/K "
          f"bytes per rank, for large K {2 * megabytes:.1f} MB: {2 * megabytes / 125:.3f} s at 1 Gbit/s, "
          f"{2 * megabytes / 1250:.4f} s at 10 Gbit/s, against {step:.3f} s for a step of {args.batch} images "
          f"on one thread here (at a batch of {args.batch} per machine).")
    if not args.smoke:
        (HERE / "results").mkdir(exist_ok=True)
        (HERE / "results" / "distributed.json").write_text(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
