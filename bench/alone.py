"""clearcnn against PyTorch as users run them: each library alone in a process of its own, the two taking turns.

Every figure is measured by a fresh child process that imports one library only, builds the model, warms up,
and times `repeats` blocks of calls; the parent runs the children for clearcnn and PyTorch in turn, `turns`
times, and reports the median over turns of each child's median. Peak memory is the child's peak resident set.

    python bench/alone.py                       # the full table (several minutes), also written as JSON
    python bench/alone.py --turns 1 --quick     # one turn of the batch-64 figures only
    python bench/bench.py --mode alone          # the same, from the bench's entry point

Figures per workload: for SEED-CNN and CIFAR-CNN, training steps with SGD-momentum and with Adam at batch 64, with
SGD-momentum at batches 8, 32 and 512, inference at batch 64 and single-image latency; for PHOTO-CNN (128x128
photos, bench.py), the same at batch 32.
"""
import argparse
import json
import os
import statistics
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)

from bench import BATCH, ClearCNNRunner, TorchRunner, peak_resident_mb  # noqa: E402

# (figure, task, optimizer, batch): task "train" and "infer" report images/s, "single" ms per image
FIGURES = [("train sgd-momentum b64", "train", "sgd", 64), ("train adam b64", "train", "adam", 64),
           ("infer b64", "infer", "sgd", 64), ("single image", "single", "sgd", 1),
           ("train sgd-momentum b8", "train", "sgd", 8), ("train sgd-momentum b32", "train", "sgd", 32),
           ("train sgd-momentum b512", "train", "sgd", 512)]
QUICK = FIGURES[:4]


def figures_for(workload, figures):
    """The figures at the workload's own batch: PHOTO-CNN's batch-64 figures are taken at batch 32, and its larger
    batches left out (128x128 images at batch 512 need gigabytes)."""
    batch = BATCH[workload]
    if batch == 64:
        return figures
    chosen = []
    for figure, task, optimizer, size in figures:
        if size == 64:
            figure, size = figure.replace("b64", f"b{batch}"), batch
        if size <= batch and all(f != figure for f, *_ in chosen):
            chosen.append((figure, task, optimizer, size))
    return chosen


def cpu_description():
    """The CPU model, its vector extensions, and what each library's code was built or compiled for."""
    model, flags = "unknown", set()
    try:
        with open("/proc/cpuinfo") as info:
            for line in info:
                if line.startswith("model name") and model == "unknown":
                    model = line.split(":", 1)[1].strip()
                elif line.startswith("flags"):
                    flags = set(line.split(":", 1)[1].split())
    except OSError:
        pass
    vectors = [name for name in ("avx2", "fma", "avx512f", "avx512bw", "avx512_vnni", "avx512_bf16", "amx_tile")
               if name in flags]
    return {"cpu": model, "vector_extensions": vectors, "cores": len(os.sched_getaffinity(0)),
            "env": {k: v for k, v in os.environ.items()
                    if k.startswith(("NUMBA_CPU", "OPENBLAS", "ATEN_CPU", "ONEDNN", "OMP_", "MKL_"))}}


def child(library, workload, task, optimizer, batch, repeats):
    """Runs in the child: seconds per call of each timed block, and the peak resident memory."""
    if library == "clearcnn":
        import clearcnn  # noqa: F401 - the library alone, never both in one process
    runner = (ClearCNNRunner if library == "clearcnn" else TorchRunner)(workload, batch, optimizer)
    call = getattr(runner, task)
    calls = max(1, min(50, int(2000 / batch))) if task != "single" else 50
    for _ in range(max(2, calls // 2)):  # warm up: compiled code, buffers, thread pools
        call()
    blocks = []
    for _ in range(repeats):
        start = time.perf_counter()
        for _ in range(calls):
            call()
        blocks.append((time.perf_counter() - start) / calls)
    info = {"seconds": blocks, "peak_mb": peak_resident_mb()}
    if library == "clearcnn":
        from clearcnn import ops
        info["engine"] = ops.describe()
    else:
        import torch
        info["engine"] = f"torch {torch.__version__}, {torch.get_num_threads()} threads, " \
                         f"{torch.backends.cpu.get_cpu_capability()}"
    return info


def run_child(library, workload, task, optimizer, batch, repeats):
    result = subprocess.run([sys.executable, __file__, "--child", library, workload, task, optimizer, str(batch),
                             str(repeats)], capture_output=True, text=True)
    if result.returncode != 0:
        raise RuntimeError(f"{library} {workload} {task} failed:\n{result.stderr[-2000:]}")
    return json.loads(result.stdout.strip().splitlines()[-1])


def measure(libraries, workloads, figures, turns, repeats):
    rows, engines = [], {}
    for workload in workloads:
        for figure, task, optimizer, batch in figures_for(workload, figures):
            seconds, memory = {lib: [] for lib in libraries}, {lib: [] for lib in libraries}
            for _ in range(turns):
                for library in libraries:
                    info = run_child(library, workload, task, optimizer, batch, repeats)
                    seconds[library].append(statistics.median(info["seconds"]))
                    memory[library].append(info["peak_mb"])
                    engines[library] = info["engine"]
            row = {"workload": workload, "figure": figure, "unit": "ms" if task == "single" else "images/s"}
            for library in libraries:
                median = statistics.median(seconds[library])
                row[library] = median * 1000 if task == "single" else batch / median
                row[f"{library}_turns"] = [round(s * 1000 if task == "single" else batch / s, 2) for s in seconds[library]]
                row[f"{library}_peak_mb"] = max(memory[library])
            if "torch" in libraries:
                row["ratio"] = (row["clearcnn"] / row["torch"] if task != "single" else row["torch"] / row["clearcnn"])
                row["memory_ratio"] = row["torch_peak_mb"] / row["clearcnn_peak_mb"]
            rows.append(row)
            print(format_row(row), flush=True)
    return rows, engines


HEADER = (f"{'workload':8} {'figure':26} {'clearcnn':>10} {'torch':>10} {'ratio':>6}  {'unit':9} "
          f"{'MiB clearcnn':>12} {'torch':>7} {'ratio':>6}")


def format_row(row):
    torch_value = f"{row['torch']:10.1f}" if "torch" in row else f"{'-':>10}"
    ratio = f"{row['ratio']:6.2f}" if "ratio" in row else f"{'-':>6}"
    memory = (f"{row['clearcnn_peak_mb']:12.0f} {row['torch_peak_mb']:7.0f} {row['memory_ratio']:6.2f}"
              if "torch" in row else f"{row['clearcnn_peak_mb']:12.0f}")
    return f"{row['workload']:8} {row['figure']:26} {row['clearcnn']:10.1f} {torch_value} {ratio}  {row['unit']:9} {memory}"


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--turns", type=int, default=3, help="turns of each library (median over turns)")
    parser.add_argument("--repeats", type=int, default=5, help="timed blocks per child (its median)")
    parser.add_argument("--workloads", default="seed,cifar,photo")
    parser.add_argument("--quick", action="store_true", help="only the batch-64 and single-image figures")
    parser.add_argument("--smoke", action="store_true", help="one turn, one block, two figures: catches breakage")
    parser.add_argument("--json", default=os.path.join(HERE, "results-alone.json"))
    parser.add_argument("--child", nargs=6, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child:
        library, workload, task, optimizer, batch, repeats = args.child
        print(json.dumps(child(library, workload, task, optimizer, int(batch), int(repeats))))
        return 0
    try:
        import importlib.util
        libraries = ["clearcnn", "torch"] if importlib.util.find_spec("torch") else ["clearcnn"]
    except ImportError:
        libraries = ["clearcnn"]
    figures = [FIGURES[0], FIGURES[3]] if args.smoke else QUICK if args.quick else FIGURES
    turns, repeats = (1, 1) if args.smoke else (args.turns, args.repeats)
    machine = cpu_description()
    print(f"CPU {machine['cpu']}, {machine['cores']} cores, vector extensions {' '.join(machine['vector_extensions'])}"
          f", env {machine['env']}")
    print(f"each library alone in its own process, {turns} turns each, {repeats} timed blocks per process")
    print(HEADER)
    print("-" * len(HEADER))
    rows, engines = measure(libraries, args.workloads.split(","), figures, turns, repeats)
    for library, engine in engines.items():
        print(f"{library}: {engine}")
    print("ratio = clearcnn / torch for throughput, torch / clearcnn for latency and memory: above 1 is better.")
    if not args.smoke:
        with open(args.json, "w") as file:
            json.dump({"machine": machine, "engines": engines, "turns": turns, "repeats": repeats, "results": rows},
                      file, indent=1)
        print(f"wrote {args.json}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
