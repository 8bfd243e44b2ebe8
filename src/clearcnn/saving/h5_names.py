"""The names and the JSON config a legacy Keras `.h5` file keeps in variable-length string attributes, read in a
child process with a memory and a time limit.

libhdf5 allocates a variable-length string at the length its descriptor declares (up to 4 GiB) before it
compares that length with the stored string, so a damaged descriptor costs gigabytes and seconds inside
libhdf5, out of reach of any check in Python. A child process that may map only CHILD_MEMORY bytes fails fast
instead, and the caller turns that into a clear error. The child imports h5py and nothing of clearcnn.
"""
import json
import os
import subprocess
import sys

CHILD_MEMORY = 512 * 2**20  # address space: Python with h5py, and a config of up to 64 MiB several times over
CHILD_SECONDS = 20
MAX_OUTPUT = 256 * 2**20


def read_legacy_names(path, with_config):
    """{"model_config": JSON text or None, "layer_names": [...], "weight_names": [[...] per layer name]} from the
    legacy `.h5` file at `path`; raises ValueError with the reason when the file is damaged or too costly."""
    environment = {**os.environ, "OPENBLAS_NUM_THREADS": "1", "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"}
    command = [sys.executable, os.path.abspath(__file__), os.fspath(path), str(int(with_config)), str(CHILD_MEMORY)]
    try:
        child = subprocess.run(command, capture_output=True, timeout=CHILD_SECONDS, env=environment,
                               stdin=subprocess.DEVNULL)
    except subprocess.TimeoutExpired:
        raise ValueError(f"reading its names did not finish in {CHILD_SECONDS} s") from None
    if child.returncode != 0 or len(child.stdout) > MAX_OUTPUT:
        detail = child.stderr.decode(errors="replace").strip().splitlines()[-1:] or [f"exit {child.returncode}"]
        raise ValueError(f"reading its names failed ({detail[0][:300]})")
    answer = json.loads(child.stdout)
    if "error" in answer:
        raise ValueError(answer["error"])
    return answer


def _limit_memory(limit):
    try:
        import resource
        resource.setrlimit(resource.RLIMIT_AS, (limit, limit))
    except (ImportError, ValueError, OSError):  # no such limit on this system: the time limit still holds
        pass


def _names(node, attribute):
    import numpy as np
    value = np.asarray(node.attrs.get(attribute, []))
    if value.ndim != 1 or not all(isinstance(n, (bytes, str)) for n in value):
        raise TypeError(f"attribute {attribute} of {node.name} must be a list of names")
    return [n.decode() if isinstance(n, bytes) else n for n in value]


def _group(h5py, parent, name):
    """The group `name` under `parent`, through a link stored in this file (Keras writes no other kind)."""
    link = parent.get(name, getlink=True)
    if not isinstance(link, h5py.HardLink) or not isinstance(parent[name], h5py.Group):
        raise KeyError(f"{parent.name.rstrip('/')}/{name} is not a group stored in this file")
    return parent[name]


def _read(path, with_config):
    import h5py
    with h5py.File(path, "r") as file:
        config = file.attrs.get("model_config") if with_config else None
        if config is not None and not isinstance(config, (bytes, str)):
            raise TypeError(f"model_config holds {type(config).__name__}, not JSON text")
        root = _group(h5py, file, "model_weights") if "model_weights" in file else file
        layer_names = _names(root, "layer_names")
        weight_names = [_names(_group(h5py, root, name), "weight_names") for name in layer_names]
    return {"model_config": config.decode() if isinstance(config, bytes) else config,
            "layer_names": layer_names, "weight_names": weight_names}


if __name__ == "__main__":
    _limit_memory(int(sys.argv[3]))
    try:
        answer = _read(sys.argv[1], sys.argv[2] == "1")
    except Exception as error:  # the parent reports any failure as a damaged file
        if isinstance(error, MemoryError) or "allocation failed" in str(error):
            answer = {"error": "a string in it declares more bytes than a Keras file's names and config can need"}
        else:
            answer = {"error": f"{type(error).__name__}: {error}"[:500]}
    sys.stdout.write(json.dumps(answer))
