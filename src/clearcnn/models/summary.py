"""The summary table in Keras 3's form, and notes on windows that leave pixels uncovered."""
from ..errors import format_bytes
from ..layers import Conv2D
from ..layers.base import WindowLayer


def format_shape(shape):
    return "(" + ", ".join("None" if d is None else str(d) for d in shape) + ("," if len(shape) == 1 else "") + ")"


def _border(widths, left, middle, right, fill):
    return left + middle.join(fill * (w + 2) for w in widths) + right


def _row(cells, widths, bar, align):
    return bar + bar.join(" " + (c.rjust(w) if a == ">" else c.ljust(w)) + " "
                          for c, w, a in zip(cells, widths, align)) + bar


def summary_lines(model, line_length=None, show_kernels=False):
    header = ["Layer (type)", "Output Shape", "Param #"] + (["2-D kernels"] if show_kernels else [])
    rows = []
    for layer, _, out in model.layer_shapes():
        cells = [f"{layer.name} ({type(layer).__name__})", format_shape(out), f"{layer.count_params():,}"]
        if show_kernels:
            kernels = layer.kernel.shape[2] * layer.kernel.shape[3] if isinstance(layer, Conv2D) else 0
            cells.append(f"{kernels:,}" if kernels else "")
        rows.append(cells)
    widths = [max(len(r[i]) for r in [header] + rows) for i in range(len(header))]
    widths[0] = max(widths[0], 29)
    widths[1] = max(widths[1], 22)
    widths[2] = max(widths[2], 13)
    if line_length:
        widths[0] = max(widths[0], line_length - sum(widths[1:]) - 3 * len(widths) - 1)
    align = ["<", "<", ">", ">"]
    lines = [f'Model: "{model.name}"', _border(widths, "┏", "┳", "┓", "━"), _row(header, widths, "┃", align),
             _border(widths, "┡", "╇", "┩", "━")]
    for index, cells in enumerate(rows):
        if index:
            lines.append(_border(widths, "├", "┼", "┤", "─"))
        lines.append(_row(cells, widths, "│", align))
    lines.append(_border(widths, "└", "┴", "┘", "─"))
    trainable = sum(w.value.size for w in model.trainable_weights)
    total = sum(w.value.size for w in model.weights)
    itemsize = 4 if model.dtype == "float32" else 8
    for label, count in (("Total", total), ("Trainable", trainable), ("Non-trainable", total - trainable)):
        lines.append(f" {label} params: {count:,} ({format_bytes(count * itemsize)})")
    lines += window_notes(model)
    return lines


def window_notes(model):
    """One note per layer side whose windows do not end on the last pixel."""
    notes = []
    for layer, in_shape, _ in model.layer_shapes():
        if not isinstance(layer, WindowLayer) or None in in_shape[1:3]:
            continue
        for axis, report in zip(("rows", "columns"), layer.size_reports(in_shape[1:3])):
            if not report.fits:
                notes.append("Note: " + report.message(f"{layer.name} ({type(layer).__name__}) {axis}", axis))
    return [""] + notes if notes else []
