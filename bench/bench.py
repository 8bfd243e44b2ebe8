"""clearcnn against PyTorch on the CPU, side by side in one run (interleaved mode) or each alone (bench/alone.py).

Workloads: SEED-CNN and CIFAR-CNN (32x32x3, batch 64) and PHOTO-CNN (128x128x3, batch 32: the `photo` preset's
conv -> batch norm -> ReLU stages and global average pooling, with its augmentation and Rescaling left out of
both libraries), float32, softmax cross-entropy from logits, SGD(0.01, momentum 0.9). Figures: training step
and inference at the workload's batch (images/s), single-image latency (ms), each the median of repeated runs,
clearcnn and PyTorch alternating so that machine drift hits both; and the peak resident memory of a separate
process that trains 20 steps.

    python bench/bench.py                 # full run, prints a table, writes bench/results.json
    python bench/bench.py --smoke         # a few steps of everything, to catch breakage (CI)
    python bench/bench.py --mode alone    # each library alone in its own process, taking turns (bench/alone.py)
"""
import argparse
import json
import os
import platform
import resource
import statistics
import subprocess
import sys
import time

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
SETTLE_SECONDS = 0.3


# --- the two workloads, in both libraries ---------------------------------------------------------

def clearcnn_model(name, optimizer="sgd"):
    from clearcnn.layers import Conv2D, Dense, Flatten, Input, MaxPooling2D
    from clearcnn.losses import SparseCategoricalCrossentropy
    from clearcnn.models import Sequential
    from clearcnn.optimizers import SGD, Adam
    from clearcnn.presets import photo_layers
    if name == "seed":
        layers = [Conv2D(6, 3, activation="relu", input_shape=(32, 32, 3)), MaxPooling2D(3, strides=1),
                  Conv2D(16, 5, activation="relu"), MaxPooling2D(3, strides=1), Flatten(),
                  Dense(120, activation="relu"), Dense(3)]
    elif name == "photo":  # the preset's network, ending on logits
        layers = [Input(INPUT_SHAPE[name]), *photo_layers(CLASSES[name])[:-1], Dense(CLASSES[name])]
    else:
        layers = [Conv2D(32, 3, padding="same", activation="relu", input_shape=(32, 32, 3)),
                  Conv2D(32, 3, activation="relu"), MaxPooling2D(2),
                  Conv2D(64, 3, padding="same", activation="relu"), Conv2D(64, 3, activation="relu"),
                  MaxPooling2D(2), Flatten(), Dense(512, activation="relu"), Dense(10)]
    model = Sequential(layers)
    model.compile(SGD(0.01, momentum=0.9) if optimizer == "sgd" else Adam(0.001),
                  SparseCategoricalCrossentropy(from_logits=True))
    return model


def torch_model(name):
    import torch.nn as nn
    if name == "seed":
        return nn.Sequential(nn.Conv2d(3, 6, 3), nn.ReLU(), nn.MaxPool2d(3, 1), nn.Conv2d(6, 16, 5), nn.ReLU(),
                             nn.MaxPool2d(3, 1), nn.Flatten(), nn.Linear(7744, 120), nn.ReLU(), nn.Linear(120, 3))
    if name == "photo":
        def stage(inputs, filters, stride=1):  # Keras's BatchNormalization: momentum 0.99 is PyTorch's 0.01
            return [nn.Conv2d(inputs, filters, 3, stride, padding=1), nn.BatchNorm2d(filters, eps=1e-3, momentum=0.01),
                    nn.ReLU()]
        return nn.Sequential(*stage(3, 32, 2), *stage(32, 64), nn.MaxPool2d(2), *stage(64, 128), nn.MaxPool2d(2),
                             *stage(128, 256), nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Dropout(0.25),
                             nn.Linear(256, CLASSES[name]))
    return nn.Sequential(nn.Conv2d(3, 32, 3, padding=1), nn.ReLU(), nn.Conv2d(32, 32, 3), nn.ReLU(), nn.MaxPool2d(2),
                         nn.Conv2d(32, 64, 3, padding=1), nn.ReLU(), nn.Conv2d(64, 64, 3), nn.ReLU(), nn.MaxPool2d(2),
                         nn.Flatten(), nn.Linear(2304, 512), nn.ReLU(), nn.Linear(512, 10))


CLASSES = {"seed": 3, "cifar": 10, "photo": 5}
INPUT_SHAPE = {"seed": (32, 32, 3), "cifar": (32, 32, 3), "photo": (128, 128, 3)}
BATCH = {"seed": 64, "cifar": 64, "photo": 32}


def data(name, batch, seed=0):
    rng = np.random.default_rng(seed)
    return rng.random((batch, *INPUT_SHAPE[name]), dtype=np.float32), rng.integers(0, CLASSES[name], batch)


class ClearCNNRunner:
    def __init__(self, name, batch, optimizer="sgd"):
        self.model = clearcnn_model(name, optimizer)
        self.x, self.y = data(name, batch)
        self.one = self.x[:1].copy()

    def train(self):
        self.model.train_on_batch(self.x, self.y)

    def infer(self):
        self.model.predict_on_batch(self.x)

    def single(self):
        self.model.predict_on_batch(self.one)


class TorchRunner:
    def __init__(self, name, batch, optimizer="sgd"):
        import torch
        self.torch = torch
        self.model = torch_model(name)
        parameters = self.model.parameters()
        self.optimizer = (torch.optim.SGD(parameters, lr=0.01, momentum=0.9) if optimizer == "sgd" else
                          torch.optim.Adam(parameters, lr=0.001, eps=1e-7))  # Keras's epsilon, as clearcnn's
        self.loss = torch.nn.CrossEntropyLoss()
        x, y = data(name, batch)
        self.x = torch.from_numpy(x.transpose(0, 3, 1, 2).copy())
        self.y = torch.from_numpy(y)
        self.one = self.x[:1].clone()

    def train(self):
        self.model.train()  # batch statistics and dropout, as clearcnn's train_on_batch
        self.optimizer.zero_grad()
        self.loss(self.model(self.x), self.y).backward()
        self.optimizer.step()

    def infer(self):
        self.model.eval()  # moving statistics, no dropout, as clearcnn's predict
        with self.torch.no_grad():
            self.model(self.x)

    def single(self):
        self.model.eval()
        with self.torch.no_grad():
            self.model(self.one)


# --- measuring ------------------------------------------------------------------------------------

def seconds_per_call(function, calls):
    start = time.perf_counter()
    for _ in range(calls):
        function()
    return (time.perf_counter() - start) / calls


def measure(runners, task, calls, repeats):
    """{library: [seconds per call, one per repeat]}, the libraries taking turns."""
    for runner in runners.values():  # warm up caches, buffers and thread pools
        getattr(runner, task)()
    times = {library: [] for library in runners}
    for _ in range(repeats):
        for library, runner in runners.items():
            # Let the other library's worker threads (OpenMP, OpenBLAS) stop spinning before timing.
            time.sleep(SETTLE_SECONDS)
            times[library].append(seconds_per_call(getattr(runner, task), calls))
    return times


def peak_memory_mb(library, workload, steps):
    """Peak resident memory of a fresh process that builds the model and trains `steps` steps."""
    result = subprocess.run([sys.executable, __file__, "--memory-child", library, workload, str(steps)],
                            capture_output=True, text=True, check=True)
    return float(result.stdout.strip().splitlines()[-1])


def memory_child(library, workload, steps):
    runner = (ClearCNNRunner if library == "clearcnn" else TorchRunner)(workload, BATCH[workload])
    for _ in range(steps):
        runner.train()
    print(peak_resident_mb())


def peak_resident_mb():
    """VmHWM, the peak resident set of this process image (ru_maxrss would include the parent's, which
    survives fork and exec on Linux)."""
    try:
        with open("/proc/self/status") as status:
            for line in status:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) / 1024
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def configuration():
    info = {"python": platform.python_version(), "numpy": np.__version__, "machine": platform.machine(),
            "cpus": os.cpu_count(),
            "env": {k: v for k, v in os.environ.items() if "THREADS" in k or k.startswith("OPENBLAS")}}
    try:
        from threadpoolctl import threadpool_info
        info["blas"] = [{k: p.get(k) for k in ("internal_api", "version", "num_threads", "architecture")}
                        for p in threadpool_info()]
    except ImportError:
        config = np.show_config(mode="dicts") if "mode" in np.show_config.__code__.co_varnames else {}
        blas = config.get("Build Dependencies", {}).get("blas", {})
        info["blas"] = {"name": blas.get("name"), "version": blas.get("version")}
    from clearcnn import ops
    from clearcnn.ops.fast import compiled, parallel
    try:
        import numba
        info["numba"] = numba.__version__
    except ImportError:
        info["numba"] = None
    info["clearcnn_backend"] = ops.get_backend()
    info["clearcnn_compiled_kernels"] = ops.get_backend() == "fast" and compiled.enabled
    info["clearcnn_thread_pool"] = ops.get_backend() == "fast" and parallel.available()
    try:
        import torch
        info["torch"] = torch.__version__
        info["torch_threads"] = torch.get_num_threads()
    except ImportError:
        info["torch"] = None
    return info


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--smoke", action="store_true", help="a few steps only; no timings worth reading")
    parser.add_argument("--repeats", type=int, default=7, help="timed repeats per figure (median reported)")
    parser.add_argument("--workloads", default="seed,cifar,photo")
    parser.add_argument("--json", default=os.path.join(HERE, "results.json"))
    parser.add_argument("--mode", choices=("interleaved", "alone"), default="interleaved",
                        help="both libraries in this process taking turns, or each alone in its own (bench/alone.py)")
    parser.add_argument("--memory-child", nargs=3, metavar=("LIBRARY", "WORKLOAD", "STEPS"), help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.mode == "alone":
        import alone
        return alone.main(["--repeats", str(args.repeats), "--workloads", args.workloads] +
                          (["--smoke"] if args.smoke else []))
    if args.memory_child:
        memory_child(args.memory_child[0], args.memory_child[1], int(args.memory_child[2]))
        return 0

    try:
        import torch  # noqa: F401
        libraries = ["clearcnn", "torch"]
    except ImportError:
        libraries = ["clearcnn"]
        print("PyTorch is not installed: measuring clearcnn alone (pip install torch==2.13.0 for the comparison)")
    global SETTLE_SECONDS
    repeats = 1 if args.smoke else args.repeats
    SETTLE_SECONDS = 0 if args.smoke else SETTLE_SECONDS
    calls = {"train": 1 if args.smoke else 5, "infer": 1 if args.smoke else 5, "single": 1 if args.smoke else 50}
    config = configuration()
    print(f"numpy {config['numpy']}, BLAS {config['blas']}, torch {config.get('torch')} "
          f"with {config.get('torch_threads')} threads, {config['cpus']} CPUs, env {config['env']}")
    print(f"clearcnn: backend {config['clearcnn_backend']}, numba {config['numba']}, "
          f"compiled kernels {'on' if config['clearcnn_compiled_kernels'] else 'off'}, "
          f"own thread pool {'on' if config['clearcnn_thread_pool'] else 'off'}"
          + ("" if config["clearcnn_compiled_kernels"] else " (is Numba installed?)"))
    results = []
    for workload in args.workloads.split(","):
        runners = {library: (ClearCNNRunner if library == "clearcnn" else TorchRunner)(workload, BATCH[workload])
                   for library in libraries}
        for task, unit in (("train", "images/s"), ("infer", "images/s"), ("single", "ms")):
            times = measure(runners, task, calls[task], repeats)
            row = {"workload": workload, "figure": task, "unit": unit}
            for library, seconds in times.items():
                median = statistics.median(seconds)
                row[library] = median * 1000 if unit == "ms" else BATCH[workload] / median
            results.append(row)
        row = {"workload": workload, "figure": "peak memory, 20 training steps", "unit": "MiB"}
        for library in libraries:
            row[library] = peak_memory_mb(library, workload, 2 if args.smoke else 20)
        results.append(row)
    for row in results:  # the ratio: higher is better for clearcnn
        if "torch" in row:
            better_when_higher = row["unit"] == "images/s"
            row["ratio"] = row["clearcnn"] / row["torch"] if better_when_higher else row["torch"] / row["clearcnn"]
    header = f"{'workload':8} {'figure':32} {'clearcnn':>12} {'torch':>12}  {'ratio':>6}  unit"
    print(header)
    print("-" * len(header))
    for row in results:
        torch_value = f"{row['torch']:12.1f}" if "torch" in row else f"{'-':>12}"
        ratio = f"{row['ratio']:6.2f}" if "ratio" in row else f"{'-':>6}"
        print(f"{row['workload']:8} {row['figure']:32} {row['clearcnn']:12.1f} {torch_value}  {ratio}  {row['unit']}")
    print("ratio = clearcnn / torch for throughput, torch / clearcnn for latency and memory: above 1 is better.")
    if not args.smoke:
        with open(args.json, "w") as file:
            json.dump({"config": config, "repeats": repeats, "results": results}, file, indent=1)
        print(f"wrote {args.json}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
