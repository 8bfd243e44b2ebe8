"""The shape of the house: no import circle in src/, no module importing upward, and the backends reached only
through the ops contract. Every import statement counts, at module level or inside a function."""
import ast
from pathlib import Path

import pytest

SRC = Path(__file__).resolve().parents[1] / "src"


def module_graph():
    """{module: {modules it imports}} for every module of the clearcnn package."""
    modules = {}
    for path in sorted((SRC / "clearcnn").rglob("*.py")):
        parts = list(path.relative_to(SRC).with_suffix("").parts)
        is_package = parts[-1] == "__init__"
        modules[".".join(parts[:-1] if is_package else parts)] = (path, is_package)
    graph = {}
    for module, (path, is_package) in modules.items():
        graph[module] = set()
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            if isinstance(node, ast.Import):
                targets = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom):
                base = module.split(".")[:len(module.split(".")) - node.level + is_package] if node.level else []
                base = ".".join(base + ([node.module] if node.module else []))
                # `from a import b`: the module a.b where there is one, else a (b is a name inside a)
                targets = [f"{base}.{alias.name}" if f"{base}.{alias.name}" in modules else base for alias in node.names]
            else:
                continue
            for target in targets:
                while target not in modules and "." in target:
                    target = target.rsplit(".", 1)[0]  # `from a.b import name`: the module a.b
                if target in modules and target != module:
                    graph[module].add(target)
    return graph


GRAPH = module_graph()


def test_the_graph_sees_the_package():
    assert "clearcnn.ops.fast.conv" in GRAPH["clearcnn.ops.fast"]
    assert "clearcnn.ops.reference.conv" in GRAPH["clearcnn.ops.reference"]
    assert "clearcnn.ops" in GRAPH["clearcnn.layers.convolutional"]


def test_no_import_circle():
    state = {}  # module -> "open" while on the current path, "done" after

    def visit(module, path):
        state[module] = "open"
        for target in sorted(GRAPH[module]):
            if state.get(target) == "open":
                loop = path[path.index(target):] + [target]
                pytest.fail("import circle: " + " -> ".join(loop))
            if target not in state:
                visit(target, path + [target])
        state[module] = "done"

    for module in sorted(GRAPH):
        if module not in state:
            visit(module, [module])


# (importer prefix, forbidden prefix): what each part of the house must not import.
RULES = [("clearcnn.layers", "clearcnn.ops.fast"), ("clearcnn.layers", "clearcnn.ops.reference"),
         ("clearcnn.models", "clearcnn.ops.fast"), ("clearcnn.models", "clearcnn.ops.reference"),
         ("clearcnn.explain", "clearcnn.ops.fast"), ("clearcnn.explain", "clearcnn.ops.reference"),
         ("clearcnn.optimizers", "clearcnn.ops.fast"), ("clearcnn.optimizers", "clearcnn.ops.reference"),
         ("clearcnn.ops.reference", "clearcnn.ops.fast"),
         ("clearcnn.saving", "clearcnn.models"), ("clearcnn.saving", "clearcnn.layers")]
RULES += [("clearcnn.ops", upper) for upper in ("clearcnn.layers", "clearcnn.models", "clearcnn.saving", "clearcnn.cli",
                                               "clearcnn.explain", "clearcnn.datasets", "clearcnn.optimizers")]
RULES += [("clearcnn.layers", upper) for upper in ("clearcnn.models", "clearcnn.saving", "clearcnn.cli",
                                                  "clearcnn.explain")]
# The trainer asks the distribution to split, gather and sum; the distribution knows nothing of models or layers.
RULES += [("clearcnn.distribution", upper) for upper in ("clearcnn.models", "clearcnn.layers", "clearcnn.saving",
                                                        "clearcnn.cli", "clearcnn.ops.fast", "clearcnn.ops.reference")]


def _under(module, prefix):
    return module == prefix or module.startswith(prefix + ".")


@pytest.mark.parametrize("importer, forbidden", RULES, ids=[f"{a}-not-{b}" for a, b in RULES])
def test_no_module_imports_upward_or_around_the_contract(importer, forbidden):
    offenders = [f"{module} imports {target}" for module, targets in GRAPH.items() if _under(module, importer)
                 for target in sorted(targets) if _under(target, forbidden)]
    assert not offenders, offenders
