"""One self-contained HTML report of a model on data: architecture and shapes, training curves, confusion
matrix, misclassified examples and feature maps. Images are inlined as base64 PNG; nothing is fetched."""
import base64
import html
import io

import numpy as np

from .pictures import plot_confusion, plot_examples, plot_feature_maps, plot_history
from .shapes_walk import walk_model

STYLE = """body{font-family:system-ui,sans-serif;max-width:1100px;margin:2em auto;padding:0 1em;color:#222}
pre{background:#f6f6f6;padding:1em;overflow-x:auto;font-size:12px}img{max-width:100%}
h2{border-bottom:1px solid #ddd;padding-bottom:.2em}.note{color:#666}"""


def _png(figure):
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", dpi=80)
    return "data:image/png;base64," + base64.b64encode(buffer.getvalue()).decode("ascii")


def _section(anchor, title, body):
    return f'<section id="{anchor}"><h2>{html.escape(title)}</h2>\n{body}\n</section>'


def _image(figure, alt):
    return f'<img alt="{html.escape(alt)}" src="{_png(figure)}">'


def build_report(model, x, y, class_names=None, history=None, max_examples=24):
    """The report as an HTML string; `x`, `y` are arrays of samples and integer labels."""
    names = list(class_names or [str(i) for i in range(model.output_shape[-1])])
    probabilities = model.predict(x, verbose=0)
    predicted = probabilities.argmax(axis=-1)
    y = np.asarray(y).reshape(-1).astype(np.int64)
    accuracy = float((predicted == y).mean())
    summary = []
    model.summary(print_fn=summary.append)
    wrong = np.flatnonzero(predicted != y)[:max_examples]
    sections = [
        _section("architecture", "Architecture", f"<pre>{html.escape(chr(10).join(summary))}</pre>"),
        _section("shapes", "Shapes, layer by layer", f"<pre>{html.escape(chr(10).join(walk_model(model)))}</pre>"),
        _section("training", "Training curves",
                 _image(plot_history(history), "training curves") if history else
                 '<p class="note">No training history was saved with this model.</p>'),
        _section("confusion", "Confusion matrix",
                 f"<p>Accuracy {accuracy:.2%} on {len(y)} samples.</p>" +
                 _image(plot_confusion(y, predicted, names), "confusion matrix")),
        _section("misclassified", "Misclassified examples",
                 _image(plot_examples(x[wrong], [f"true {names[y[i]]}\npred {names[predicted[i]]}" for i in wrong]),
                        "misclassified examples") if len(wrong) else
                 '<p class="note">Every sample was classified correctly.</p>'),
        _section("features", "Feature maps of the first sample", _image(plot_feature_maps(model, x[0]),
                                                                        "feature maps")),
    ]
    title = f"clearcnn report: {html.escape(model.name)}"
    return (f'<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8"><title>{title}</title>'
            f"<style>{STYLE}</style></head>\n<body><h1>{title}</h1>\n" + "\n".join(sections) + "\n</body></html>\n")
