"""The explanation mode, the shape walk, the pictures and the report (issue: see inside)."""
import importlib.util
import re
import shutil
import subprocess
import sys

import numpy as np
import pytest

from clearcnn.errors import ClearCNNError
from clearcnn.explain import colour_example, explain, explain_cell, grayscale_example, parse_spec, walk
from clearcnn.explain.arithmetic import number
from clearcnn.layers import Activation, AveragePooling2D, Conv2D, Dense, Dropout, Flatten, Layer, MaxPooling2D, Rescaling
from clearcnn.models import Sequential


def run_cli(*args, cwd=None):
    return subprocess.run([sys.executable, "-m", "clearcnn", *args], capture_output=True, text=True, cwd=cwd,
                          timeout=300)


# --- the article's worked example ------------------------------------------------------------------

def test_explain_without_arguments_prints_the_articles_numbers():
    result = run_cli("explain")
    assert result.returncode == 0, result.stderr
    text = result.stdout
    assert "3x1 + 5x1 + 5x1 = 13" in text
    assert "4x0 + 3x0 + 4x0 = 0" in text
    assert "6x1 + 2x1 + 3x1 = 11" in text
    assert "13 + 0 + 11 = 24" in text
    for column_sums in ("11 + 0 + 12 = 23", "11 + 0 + 6 = 17", "12 + 0 + 11 = 23"):
        assert column_sums in text
    assert "first output row: 24 23 17 23" in text
    # S6: the colour case shows one sum per channel, then their total.
    assert "channel 2:" in text and "over the 3 channels:" in text


def test_colour_example_channel_sums_add_up():
    text = colour_example()
    sums = [int(s) for s in re.findall(r"    sum: .* = (-?\d+)", text)]
    total = int(re.search(r"over the 3 channels: .* = (-?\d+)", text).group(1))
    assert len(sums) == 3 and sum(sums) == total
    assert f"result = {total}" in text


def test_grayscale_example_matches_hand_computed_first_row():
    image = np.array([[3, 4, 6, 5, 1, 3], [5, 3, 2, 4, 3, 2], [5, 4, 3, 3, 2, 6]], float)
    kernel = np.array([[1, 0, 1]] * 3, float)
    by_hand = [int((image[:, c:c + 3] * kernel).sum()) for c in range(4)]
    assert by_hand == [24, 23, 17, 23]
    assert "first output row: " + " ".join(map(str, by_hand)) in grayscale_example()


# --- explained values equal the forward pass -------------------------------------------------------

CASES = [
    lambda: Conv2D(5, 3, activation="relu"),
    lambda: Conv2D(4, (2, 3), strides=(2, 1), padding="same", activation="tanh"),
    lambda: Conv2D(3, 3, dilation_rate=2, padding=((1, 0), (0, 2)), activation="sigmoid"),
    lambda: Conv2D(6, 1, strides=3, use_bias=False),
    lambda: MaxPooling2D(2),
    lambda: MaxPooling2D(3, strides=2, padding="same"),
    lambda: AveragePooling2D(2, strides=1),
    lambda: AveragePooling2D(3, strides=2, padding="same"),
]


@pytest.mark.parametrize("make", CASES)
def test_explained_value_equals_forward_pass(make):
    rng = np.random.default_rng(7)
    for _ in range(4):
        layer = make()
        channels = int(rng.integers(1, 5))
        image = rng.normal(size=(9, 8, channels))
        output = layer(image[None])[0]
        if layer.weights:
            layer.set_weights([rng.normal(size=w.shape) for w in layer.weights])
            output = layer(image[None])[0]
        row, col, index = (int(rng.integers(0, n)) for n in output.shape)
        explanation = explain_cell(layer, image, row, col, index)
        assert explanation.value == pytest.approx(float(output[row, col, index]), rel=1e-5, abs=1e-5)
        assert explanation.lines[-1] == f"  result = {number(explanation.value)}"


def test_explain_through_a_model_reaches_the_named_layer():
    rng = np.random.default_rng(3)
    model = Sequential([Conv2D(4, 3, activation="relu", input_shape=(10, 10, 2)), MaxPooling2D(2),
                        Conv2D(3, 2), Flatten(), Dense(2)])
    image = rng.normal(size=(10, 10, 2))
    pooled = model.layers[1](model.layers[0](image[None].astype("float32")))
    expected = model.layers[2](pooled)[0]
    explanation = explain(model, image, model.layers[2].name, 1, 2, 1)
    assert explanation.value == pytest.approx(float(expected[1, 2, 1]), rel=1e-4, abs=1e-5)


def test_every_layer_kind_explained_equals_the_forward_pass():
    rng = np.random.default_rng(11)
    model = Sequential([Rescaling(0.5, offset=-1, input_shape=(7, 6, 2)), Conv2D(3, 3, padding="same", activation="elu"),
                        Activation("softmax"), AveragePooling2D(2, padding="same"), MaxPooling2D(2, strides=1),
                        Flatten(), Dropout(0.5), Dense(25, activation="leaky_relu"), Activation("tanh"),
                        Dense(4, activation="softmax")])
    image = rng.normal(size=(7, 6, 2)) * 3
    for index, (_, output) in enumerate(model.layer_outputs(image[None])):
        output = output[0]
        for _ in range(5):
            if output.ndim == 1:
                row, col, unit = 0, 0, int(rng.integers(output.size))
                expected = output[unit]
            else:
                row, col, unit = (int(rng.integers(n)) for n in output.shape)
                expected = output[row, col, unit]
            explanation = explain(model, image, index, row, col, unit)
            assert explanation.value == pytest.approx(float(expected), rel=1e-5, abs=1e-6), explanation.text
            assert explanation.lines[-1] == f"  result = {number(explanation.value)}"
    dense = explain(model, image, 7, 0, 0, 3).text
    assert "largest first (10 of 18)" in dense and "the other 8 products add up to" in dense
    assert "softmax over the 4 units" in explain(model, image, 9, 0, 0, 1).text
    assert "softmax over the 3 channels" in explain(model, image, 2, 1, 1, 0).text
    assert "(1 x 2 + 0) x 3 + 2 = 8" in explain(model, image, 5, 0, 0, 8).text
    with pytest.raises(ClearCNNError, match="row=1"):
        explain(model, image, 7, 1, 0, 0)
    with pytest.raises(ClearCNNError, match="unit=25"):
        explain(model, image, 7, 0, 0, 25)


def test_explain_names_the_kinds_it_can_explain():
    class Doubling(Layer):
        def forward(self, x, training=False):
            return 2 * x
    model = Sequential([Dense(2, input_shape=(3,)), Doubling()])
    with pytest.raises(ClearCNNError, match="Conv2D.*Dense.*Doubling"):
        explain(model, np.ones(3), 1, 0, 0, 0)


def test_explain_rejects_a_cell_outside_the_output():
    layer = Conv2D(2, 3)
    layer(np.zeros((1, 6, 6, 1)))
    with pytest.raises(ClearCNNError, match="row=4"):
        explain_cell(layer, np.zeros((6, 6, 1)), 4, 0, 0)
    with pytest.raises(ClearCNNError, match="filter_index=2"):
        explain_cell(layer, np.zeros((6, 6, 1)), 0, 0, 2)


# --- the shape walk --------------------------------------------------------------------------------

ARTICLE = "32x32x3 | conv 6 3 | maxpool 3 1 | conv 16 5 | maxpool 3 1 | flatten | dense 120 | dense 3"


def test_shapes_of_the_article_network():
    result = run_cli("shapes", ARTICLE)
    assert result.returncode == 0, result.stderr
    text = result.stdout
    for shape in ("30x30x6", "28x28x6", "24x24x16", "22x22x16", "output 7744"):
        assert shape in text
    assert "(32 + 2*0 - 3) / 1 + 1 = 30" in text
    assert "932,347" in text
    assert "6 x 3 = 18 two-dimensional" in text


def test_shapes_of_a_stride_that_does_not_fit():
    result = run_cli("shapes", "6x6x1 | conv 1 3 2")
    assert result.returncode == 0, result.stderr
    assert "= 2.5" in result.stdout
    assert "input row 5 is covered by no window" in result.stdout
    assert 'padding="same"' in result.stdout and "7 pixels" in result.stdout


def test_shapes_of_a_kernel_larger_than_its_input():
    text = "\n".join(walk(*parse_spec("4x4x1 | conv 2 5")))
    assert "larger than the padded input" in text


def test_shapes_of_a_preset_and_a_bad_spec():
    assert "932,347" in run_cli("shapes", "seed").stdout
    result = run_cli("shapes", "32x32x3 | convolve 6")
    assert result.returncode == 1 and "cannot read the network spec" in result.stderr


# --- pictures --------------------------------------------------------------------------------------

pytestmark_plots = pytest.mark.skipif(importlib.util.find_spec("matplotlib") is None, reason="no matplotlib")
PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


def panel_count(figure):
    return sum(1 for ax in figure.axes if ax.images or ax.lines)


def png_size(path):
    data = path.read_bytes()
    assert data[:8] == PNG_SIGNATURE
    return int.from_bytes(data[16:20], "big"), int.from_bytes(data[20:24], "big")


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    """A small model trained one epoch on digits by the CLI, with history saved in it."""
    from clearcnn.datasets import load_mnist10k
    from clearcnn.presets import build_preset
    from clearcnn.utils import set_random_seed
    set_random_seed(0)
    (x, y), (xt, yt) = load_mnist10k()
    model = build_preset("default")
    model.compile("adam", "sparse_categorical_crossentropy", ["accuracy"])
    history = model.fit(x[:1500, ..., None], y[:1500], epochs=2, validation_split=0.2, verbose=0)
    model.metadata = {"class_names": [str(i) for i in range(10)], "history": history.history}
    path = tmp_path_factory.mktemp("model") / "digits.clearcnn"
    model.save(path)
    return path, model, xt[:300, ..., None], yt[:300]


@pytestmark_plots
def test_kernel_picture(trained, tmp_path):
    from clearcnn.explain import pictures
    _, model, _, _ = trained
    figure = pictures.plot_kernels(model)
    assert panel_count(figure) == 32 * 1
    out = tmp_path / "k.png"
    pictures.save(figure, out)
    assert png_size(out)[0] > 100


@pytestmark_plots
def test_feature_map_picture(trained, tmp_path):
    from clearcnn.explain import pictures
    _, model, x, _ = trained
    figure = pictures.plot_feature_maps(model, x[0], max_maps=8)
    assert panel_count(figure) == 4 * 8  # conv, pool, conv, pool; 8 maps each
    maps = pictures.feature_maps(model, x[0])
    assert [m.shape for _, m in maps] == [(24, 24, 32), (12, 12, 32), (10, 10, 64), (5, 5, 64)]


@pytestmark_plots
def test_history_picture_from_history_and_csv(trained, tmp_path):
    from clearcnn.explain import pictures
    _, model, _, _ = trained
    figure = pictures.plot_history(model.metadata["history"])
    assert panel_count(figure) == 2 and all(len(ax.lines) == 2 for ax in figure.axes)
    log = tmp_path / "log.csv"
    log.write_text("epoch,accuracy,loss,val_accuracy,val_loss\n0,0.5,1.0,0.6,0.9\n1,0.7,0.6,0.7,0.7\n")
    figure = pictures.plot_history(str(log))
    assert panel_count(figure) == 2
    assert list(figure.axes[0].lines[0].get_ydata()) == [1.0, 0.6]


@pytestmark_plots
def test_confusion_matrix_counts():
    from clearcnn.explain import pictures
    matrix = pictures.confusion_matrix([0, 0, 1, 2, 2, 2], [0, 1, 1, 2, 0, 2], 3)
    assert matrix.tolist() == [[1, 1, 0], [0, 1, 0], [1, 0, 2]]
    figure = pictures.plot_confusion([0, 0, 1, 2, 2, 2], [0, 1, 1, 2, 0, 2], ["a", "b", "c"])
    assert panel_count(figure) == 1
    assert sorted(t.get_text() for t in figure.axes[0].texts) == sorted(map(str, matrix.ravel()))


@pytestmark_plots
def test_show_commands_write_pngs(trained, tmp_path):
    path, _, _, _ = trained
    image = tmp_path / "digit.png"
    from PIL import Image
    Image.fromarray((np.random.default_rng(0).random((28, 28)) * 255).astype(np.uint8)).save(image)
    for what, extra in (("kernels", []), ("features", [str(image)]), ("history", []), ("confusion", [])):
        out = tmp_path / f"{what}.png"
        result = run_cli("show", what, str(path), *extra, "-o", str(out))
        assert result.returncode == 0, result.stderr
        assert png_size(out)[0] > 100


# --- the report ------------------------------------------------------------------------------------

SECTIONS = ("architecture", "shapes", "explore", "training", "confusion", "misclassified", "features")


@pytestmark_plots
def test_report_is_self_contained(trained, tmp_path):
    path, _, _, _ = trained
    out = tmp_path / "report.html"
    result = run_cli("report", str(path), "--samples", "300", "-o", str(out))
    assert result.returncode == 0, result.stderr
    page = out.read_text()
    for section in SECTIONS:
        assert f'id="{section}"' in page
    assert page.count("data:image/png;base64,") == 4
    assert "http://" not in page and "https://" not in page and "src=\"http" not in page
    # Scripts only inline: the explorer's data and code, under a policy that lets the page fetch nothing.
    assert re.findall(r"<script[^>]*>", page) == ['<script type="application/json" id="explorer-data">', "<script>"]
    assert "default-src 'none'" in page


def find_chromium():
    return shutil.which("chromium") or shutil.which("chromium-browser") or shutil.which("google-chrome")


@pytestmark_plots
@pytest.mark.skipif(find_chromium() is None, reason="no Chromium on this machine")
def test_report_renders_in_headless_chromium(trained, tmp_path):
    path, _, _, _ = trained
    out = tmp_path / "report.html"
    assert run_cli("report", str(path), "--samples", "300", "-o", str(out)).returncode == 0
    # Count the images that decoded: a script appended to a copy reports naturalWidth of each image.
    probe = tmp_path / "probe.html"
    probe.write_text(out.read_text().replace("</body>", "<script>window.onload = () => { document.title = "
                     "'decoded:' + [...document.images].filter(i => i.naturalWidth > 0).length + ' sections:' + "
                     "document.querySelectorAll('section h2').length; };</script></body>"))
    flags = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
             "--disable-background-networking", "--disable-component-update", "--disable-sync",
             f"--user-data-dir={tmp_path / 'profile'}", "--enable-logging=stderr", "--v=0",
             "--virtual-time-budget=5000"]
    result = subprocess.run([find_chromium(), *flags, "--dump-dom", probe.as_uri()], capture_output=True,
                            text=True, timeout=120)
    assert result.returncode == 0, result.stderr[-2000:]
    assert "<title>decoded:4 sections:7</title>" in result.stdout
    console_errors = [line for line in result.stderr.splitlines() if "CONSOLE" in line and "rror" in line]
    assert not console_errors
    dom = result.stdout
    for section in SECTIONS:
        assert f'id="{section}"' in dom
    # And the page as written, without the probe, gives no console output at all.
    plain = subprocess.run([find_chromium(), *flags, "--dump-dom", out.as_uri()], capture_output=True, text=True,
                           timeout=120)
    assert plain.returncode == 0
    assert not [line for line in plain.stderr.splitlines() if "CONSOLE" in line]
