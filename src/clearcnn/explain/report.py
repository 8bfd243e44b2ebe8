"""One self-contained HTML report of a model on data: architecture and shapes, the explorer of one sample's
arithmetic (explorer.py), training curves, confusion matrix, misclassified examples and feature maps. Images are
inlined as base64 PNG, the explorer's script and style as text; a Content-Security-Policy forbids fetching
anything, so the page works opened from disk and never touches the network."""
import base64
import html
import io

import numpy as np

from ..errors import ClearCNNError
from . import explorer
from .pictures import feature_maps, plot_confusion, plot_examples, plot_feature_maps, plot_history
from .shapes_walk import walk_model

STYLE = """body{font-family:system-ui,sans-serif;max-width:1240px;margin:2em auto;padding:0 1em;color:#222}
pre{background:#f6f6f6;padding:1em;overflow-x:auto;font-size:12px}img{max-width:100%}
h2{border-bottom:1px solid #ddd;padding-bottom:.2em}.note{color:#666}"""
POLICY = ("default-src 'none'; img-src data:; style-src 'unsafe-inline'; script-src 'unsafe-inline'; "
          "form-action 'none'; base-uri 'none'")


def _png(figure):
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", dpi=80)
    return "data:image/png;base64," + base64.b64encode(buffer.getvalue()).decode("ascii")


def _section(anchor, title, body):
    return f'<section id="{anchor}"><h2>{html.escape(title)}</h2>\n{body}\n</section>'


def _image(figure, alt):
    return f'<img alt="{html.escape(alt)}" src="{_png(figure)}">'


def build_report(model, x, y, class_names=None, history=None, max_examples=24, image=None, image_caption=None):
    """The report as an HTML string; `x`, `y` are arrays of samples and integer labels, or None (then the sections
    that need data say so). The explorer shows `image` (one sample, no batch axis), by default x[0]."""
    names = list(class_names or [str(i) for i in range(model.output_shape[-1])])
    if image is None:
        if x is None:
            raise ClearCNNError("report: needs data or an image to explore; received neither.")
        image, image_caption = x[0], image_caption or "The first sample of the data."
    summary = []
    model.summary(print_fn=summary.append)
    sections = [
        _section("architecture", "Architecture", f"<pre>{html.escape(chr(10).join(summary))}</pre>"),
        _section("shapes", "Shapes, layer by layer", f"<pre>{html.escape(chr(10).join(walk_model(model)))}</pre>"),
        _section("explore", "Explore", explorer.explore_section_body(model, image, class_names, image_caption or "")),
        _section("training", "Training curves",
                 _image(plot_history(history), "training curves") if history else
                 '<p class="note">No training history was saved with this model.</p>'),
        *(_data_sections(model, x, y, names, max_examples) if x is not None else [
            _section(anchor, title, '<p class="note">No data was given: pass --data to see how the model does.</p>')
            for anchor, title in (("confusion", "Confusion matrix"), ("misclassified", "Misclassified examples"))]),
        _section("features", "Feature maps of the explored sample",
                 _image(plot_feature_maps(model, image), "feature maps") if feature_maps(model, image) else
                 '<p class="note">The model has no conv or pooling layer.</p>'),
    ]
    title = f"clearcnn report: {html.escape(model.name)}"
    return (f'<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
            f'<meta http-equiv="Content-Security-Policy" content="{POLICY}"><title>{title}</title>'
            f"<style>{STYLE}\n{explorer.style()}</style></head>\n<body><h1>{title}</h1>\n" + "\n".join(sections) +
            "\n</body></html>\n")


def _data_sections(model, x, y, names, max_examples):
    probabilities = model.predict(x, verbose=0)
    predicted = probabilities.argmax(axis=-1)
    y = np.asarray(y).reshape(-1).astype(np.int64)
    accuracy = float((predicted == y).mean())
    wrong = np.flatnonzero(predicted != y)[:max_examples]
    return [
        _section("confusion", "Confusion matrix",
                 f"<p>Accuracy {accuracy:.2%} on {len(y)} samples.</p>" +
                 _image(plot_confusion(y, predicted, names), "confusion matrix")),
        _section("misclassified", "Misclassified examples",
                 _image(plot_examples(x[wrong], [f"true {names[y[i]]}\npred {names[predicted[i]]}" for i in wrong]),
                        "misclassified examples") if len(wrong) else
                 '<p class="note">Every sample was classified correctly.</p>'),
    ]
