"""The report's Explore section: its embedded data (fast, no browser), then the page itself driven in headless
Chromium through Selenium. Every explanation the page writes is held equal, line for line, to what
`clearcnn explain` prints for the same cell, and its value to the model's own forward pass."""
import base64
import html
import json
import re
import shutil
import subprocess
import sys

import numpy as np
import pytest

from clearcnn.datasets import load_mnist10k
from clearcnn.explain import explain
from clearcnn.explain.arithmetic import number
from clearcnn.explain.explorer import encode, explore_section_body, explorer_data
from clearcnn.explain.worked_examples import EXAMPLE_IMAGE, example_layer
from clearcnn.layers import (
    Activation,
    AveragePooling2D,
    BatchNormalization,
    Conv2D,
    Dense,
    Dropout,
    Flatten,
    GlobalAveragePooling2D,
    GlobalMaxPooling2D,
    Input,
    MaxPooling2D,
    RandomContrast,
    RandomFlip,
)
from clearcnn.models import Sequential
from clearcnn.presets import build_preset
from clearcnn.utils import set_random_seed


def decode(encoded):
    dtype = np.dtype(encoded["dtype"]).newbyteorder("<")
    return np.frombuffer(base64.b64decode(encoded["b64"]), dtype).reshape(encoded["shape"])


def page_data(body):
    found = re.search(r'<script type="application/json" id="explorer-data">(.*?)</script>', body, re.S)
    return json.loads(found.group(1))


def digit():
    _, (x, _) = load_mnist10k()
    return x[7][..., None].astype(np.float32)


def worked_example_model():
    """The worked example's layer (a 6x6 image, a 3x3 kernel, no bias) as a model."""
    return Sequential([Input((6, 6, 1)), example_layer()], name="worked_example")


def every_kind_model():
    set_random_seed(5)
    model = Sequential([Conv2D(3, 3, padding="same", activation="tanh", input_shape=(7, 6, 2)), Activation("softmax"),
                        AveragePooling2D(2, padding="same"), MaxPooling2D(2, strides=1), Flatten(), Dropout(0.5),
                        Dense(15, activation="relu"), Dense(4, activation="softmax")], name="every_kind")
    return model, np.random.default_rng(1).normal(size=(7, 6, 2)).astype(np.float32)


def with_statistics(model, seed=0):
    """Random gamma, beta and moving statistics for every BatchNormalization (variances in [0.5, 2])."""
    rng = np.random.default_rng(seed)
    for layer in model.layers:
        if isinstance(layer, BatchNormalization):
            layer.set_weights([rng.uniform(0.5, 2, w.shape) if "variance" in w.name else rng.normal(size=w.shape)
                               for w in layer.weights])
    return model


def more_kind_models():
    """Batch normalization (on images and vectors, with and without gamma or beta), global pooling over few and
    many cells, and augmentation layers, which pass images through at inference."""
    set_random_seed(6)
    rng = np.random.default_rng(4)
    return [
        (with_statistics(Sequential([Conv2D(3, 3, input_shape=(7, 6, 2)), BatchNormalization(), Flatten(),
                                     Dense(5), BatchNormalization(center=False), Dense(3)], name="normalised")),
         rng.normal(size=(7, 6, 2)).astype(np.float32)),
        (with_statistics(Sequential([RandomFlip(input_shape=(9, 8, 3)), RandomContrast(0.2), Conv2D(4, 3),
                                     BatchNormalization(scale=False), GlobalAveragePooling2D(), Dense(3)])),
         rng.normal(size=(9, 8, 3)).astype(np.float32)),
        (Sequential([Conv2D(2, 2, input_shape=(12, 11, 2)), GlobalMaxPooling2D(keepdims=True), Flatten(), Dense(2)]),
         rng.normal(size=(12, 11, 2)).astype(np.float32)),
        (Sequential([GlobalAveragePooling2D(input_shape=(10, 10, 1)), Dense(2)]),
         rng.normal(size=(10, 10, 1)).astype(np.float32)),
    ]


# --- the embedded data, without a browser ------------------------------------------------------------

def test_embedded_values_are_the_forward_pass():
    model, image = every_kind_model()
    data = page_data(explore_section_body(model, image))
    assert [layer["name"] for layer in data["layers"]] == ["input", *(layer.name for layer in model.layers)]
    assert np.array_equal(decode(data["layers"][0]["values"]), image)
    for entry, (layer, output) in zip(data["layers"][1:], model.layer_outputs(image[None])):
        assert entry["kind"] == type(layer).__name__
        assert np.array_equal(decode(entry["values"]), output[0])
    conv = data["layers"][1]
    assert np.array_equal(decode(conv["kernel"]), model.layers[0].kernel.value)
    assert conv["pads"] == [1, 1] and conv["activation"] == {"name": "tanh"}


def test_dense_sends_its_largest_products_and_the_sums():
    model, image = every_kind_model()
    data = explorer_data(model, image)
    dense, flat = data["layers"][7], decode(data["layers"][6]["values"]).astype(np.float64)
    kernel = model.layers[6].kernel.value.astype(np.float64)
    products = flat[:, None] * kernel
    top = decode(dense["top_index"])
    assert top.shape == (15, 10)
    for unit in range(15):
        sizes = np.abs(products[:, unit])
        assert sorted(sizes[top[unit]], reverse=True) == list(sizes[top[unit]])
        assert sizes[top[unit]].min() >= np.delete(sizes, top[unit]).max()
        assert decode(dense["total"])[unit] == pytest.approx(products[:, unit].sum(), abs=1e-12)
        assert decode(dense["rest"])[unit] == pytest.approx(np.delete(products[:, unit], top[unit]).sum(), abs=1e-12)
        assert np.array_equal(decode(dense["top_weight"])[unit], model.layers[6].kernel.value[top[unit], unit])


def test_model_strings_are_escaped():
    hostile = '<img src=x onerror=alert(1)> & "q"'
    model = Sequential([Conv2D(2, 3, input_shape=(6, 6, 1), name=hostile), Flatten(), Dense(2, name="d")])
    classes = ["</script><script>alert(2)</script>", "<b>&amp;"]
    body = explore_section_body(model, np.zeros((6, 6, 1)), classes, caption="<i>caption</i>")
    assert "<img" not in body and "</script><script>" not in body and "<b>" not in body and "<i>" not in body
    assert body.count("</script>") == 2  # the end of the data and of the script, nothing else
    data = page_data(body)
    assert data["layers"][1]["name"] == hostile and data["class_names"] == classes
    assert html.escape("<i>caption</i>") in body


def test_encode_keeps_float64_and_shrinks_the_rest_to_float32():
    assert decode(encode(np.array([0.1, 2.0]))).dtype == np.float64
    assert decode(encode(np.array([0.1], np.float32))).tolist() == [np.float32(0.1)]
    assert decode(encode(np.arange(6).reshape(2, 3), "int32")).tolist() == [[0, 1, 2], [3, 4, 5]]


@pytest.mark.parametrize("preset", ["default", "seed", "cifar"])
def test_the_explorer_of_a_preset_stays_small(preset):
    set_random_seed(0)
    model = build_preset(preset)
    image = np.random.default_rng(0).integers(0, 256, model.input_shape[1:]).astype(np.float32)
    size = len(explore_section_body(model, image).encode())
    assert size < 8e6, size  # the rest of the report (a few PNG pictures) stays well under 2 MB


def test_report_of_a_photo_model_without_data_asks_for_data_or_an_image(tmp_path):
    """Without --data the report has the embedded digits only, which a 32x32x3 model cannot take."""
    build_preset("seed").save(tmp_path / "seed.clearcnn")
    refused = run_cli("report", "seed.clearcnn", "-o", "r.html", cwd=tmp_path)
    assert refused.returncode == 1 and not (tmp_path / "r.html").exists()
    for fragment in ("32x32x3", "28x28x1", "--data", "--image PHOTO"):
        assert fragment in refused.stderr, refused.stderr


# --- the page in headless Chromium -------------------------------------------------------------------

def find_browser():
    """(chromium, chromedriver) paths, or None where either or Selenium is missing."""
    try:
        import selenium  # noqa: F401
    except ImportError:
        return None
    chromium = shutil.which("chromium") or shutil.which("chromium-browser") or shutil.which("google-chrome")
    driver = shutil.which("chromedriver")
    return (chromium, driver) if chromium and driver else None


needs_browser = pytest.mark.skipif(find_browser() is None, reason="needs chromium, chromedriver and selenium")


@pytest.fixture(scope="module")
def browser():
    from selenium import webdriver
    from selenium.webdriver.chrome.options import Options
    from selenium.webdriver.chrome.service import Service
    chromium, driver = find_browser()
    options = Options()
    options.binary_location = chromium
    for flag in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--window-size=1300,1000",
                 "--disable-background-networking", "--disable-component-update", "--no-first-run"):
        options.add_argument(flag)
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    session = webdriver.Chrome(service=Service(driver), options=options)
    yield session
    session.quit()


def open_page(browser, path):
    browser.get(path.as_uri())
    problems = [entry for entry in browser.get_log("browser") if entry["level"] in ("SEVERE", "WARNING")]
    assert not problems, problems


def no_console_errors(browser):
    problems = [entry for entry in browser.get_log("browser") if entry["level"] in ("SEVERE", "WARNING")]
    assert not problems, problems


def arithmetic(browser):
    panel = browser.find_element("id", "arithmetic")
    return browser.execute_script("return arguments[0].textContent", panel), float(panel.get_attribute("data-value"))


def click_cell(browser, layer, row, col, channel):
    """Show the channel by clicking its thumbnail (where the layer has several maps), then click the cell on the
    map where the page drew it; the cursor element must name that cell."""
    from selenium.webdriver import ActionChains
    box = browser.find_element("id", f"explore-layer-{layer}")
    thumbs = box.find_elements("css selector", f'.thumb[data-channel="{channel}"]')
    if thumbs:
        thumbs[0].click()
    canvas = box.find_element("css selector", "canvas.map")
    # Pointer offsets count from the centre of the element's visible part: bring all of it into view first.
    browser.execute_script("arguments[0].scrollIntoView({block: 'center'})", canvas)
    centre = browser.execute_script("return clearcnnExplorer.cellCenter(...arguments)", layer, row, col, channel)
    size = canvas.size
    ActionChains(browser).move_to_element_with_offset(canvas, int(centre["x"] - size["width"] / 2),
                                                     int(centre["y"] - size["height"] / 2)).click().perform()
    cursor = box.find_element("css selector", ".cell.cursor")
    assert [cursor.get_attribute(f"data-{key}") for key in ("layer", "row", "col", "channel")] == \
        [str(layer), str(row), str(col), str(channel)]
    return arithmetic(browser)


def check_cell(browser, model, image, outputs, index, cell, click=True):
    """The page's arithmetic of output `cell` of layer `index` (1-based; 0 is the input) equals explain's text,
    ends with `= VALUE`, and its value is the forward pass's to 1e-4."""
    row, col, channel = cell
    if click:
        text, value = click_cell(browser, index, row, col, channel)
    else:
        text = browser.execute_script("return clearcnnExplorer.select(...arguments)", index, row, col, channel)
        value = arithmetic(browser)[1]
    expected = explain(model, image, index - 1, row, col, channel)
    assert text == expected.text
    assert text.endswith(f"= {number(value)}")
    output = outputs[index - 1]
    assert value == pytest.approx(float(output[channel] if output.ndim == 1 else output[row, col, channel]), abs=1e-4)
    return text


def run_cli(*args, cwd=None):
    return subprocess.run([sys.executable, "-m", "clearcnn", *args], capture_output=True, text=True, cwd=cwd,
                          timeout=300)


def strongest(output, channel=0):
    """The cell of the largest value in one channel of an (H, W, C) output."""
    row, col = np.unravel_index(int(np.argmax(output[:, :, channel])), output.shape[:2])
    return int(row), int(col), channel


@needs_browser
def test_worked_example_in_the_browser(browser, tmp_path):
    from clearcnn.explain.report import build_report
    model, image = worked_example_model(), EXAMPLE_IMAGE[:, :, None]
    path = tmp_path / "example.html"
    path.write_text(build_report(model, None, None, image=image, image_caption="The worked example."))
    open_page(browser, path)
    outputs = [output[0] for _, output in model.layer_outputs(image[None])]
    texts = [check_cell(browser, model, image, outputs, 1, (0, col, 0)) for col in range(4)]
    assert "    kernel column 0: 3x1 + 5x1 + 5x1 = 13" in texts[0]
    assert "    sum: 13 + 0 + 11 = 24" in texts[0]
    assert [t.splitlines()[-1] for t in texts] == ["  result = 24", "  result = 23", "  result = 17", "  result = 23"]
    window = browser.find_elements("css selector", ".panel-tables td")
    assert [cell.text for cell in window[:9]] == ["5", "1", "3", "4", "3", "2", "3", "2", "6"]  # column 3's window
    no_console_errors(browser)


@pytest.fixture(scope="module")
def default_report(tmp_path_factory):
    """An (untrained) default preset saved, a digit as a PNG, and the report the CLI writes for them."""
    from PIL import Image
    folder = tmp_path_factory.mktemp("default")
    set_random_seed(3)
    model = build_preset("default")
    model.metadata = {"class_names": [f"digit {i}" for i in range(10)]}
    model.save(folder / "m.clearcnn")
    image = digit()
    Image.fromarray(image[:, :, 0].astype(np.uint8), "L").save(folder / "digit.png")
    result = run_cli("report", "m.clearcnn", "--image", "digit.png", "--samples", "50", "-o", "r.html", cwd=folder)
    assert result.returncode == 0, result.stderr
    assert re.fullmatch(r"Wrote r\.html \(\d+ kB\)\n|Wrote r\.html \(\d\.\d MB\)\n", result.stdout), result.stdout
    assert (folder / "r.html").stat().st_size < 10e6
    return model, image, folder / "r.html"


@needs_browser
def test_default_preset_on_a_digit_in_the_browser(browser, default_report):
    model, image, path = default_report
    open_page(browser, path)
    outputs = [output[0] for _, output in model.layer_outputs(image[None])]
    kinds = [type(layer).__name__ for layer in model.layers]  # page index 0 is the input
    conv, pool, dense, last = 1 + kinds.index("Conv2D"), 1 + kinds.index("MaxPooling2D"), 1 + kinds.index("Dense"), len(kinds)
    text = check_cell(browser, model, image, outputs, conv, strongest(outputs[conv - 1], 5))
    assert "plus bias" in text and "relu(" in text
    text = check_cell(browser, model, image, outputs, pool, strongest(outputs[pool - 1], 3))
    assert "  max = " in text
    # The pooling window is marked on the conv layer below, which now shows the same channel.
    assert browser.find_element("css selector", f"#explore-layer-{conv} canvas.map").get_attribute("data-channel") == "3"
    units = outputs[dense - 1]
    text = check_cell(browser, model, image, outputs, dense, (0, 0, int(np.argmax(units))))
    assert "largest first (10 of 1600)" in text and "the other 1590 products add up to" in text
    text = check_cell(browser, model, image, outputs, last, (0, 0, int(np.argmax(outputs[-1]))))
    assert "softmax over the 10 units" in text
    assert "digit" in browser.find_element("id", "explore-title").text
    for index in range(1, len(kinds) + 1):  # a few cells of every layer, through the page's own API
        output = outputs[index - 1]
        rng = np.random.default_rng(index)
        for _ in range(3):
            cell = (0, 0, int(rng.integers(output.size))) if output.ndim == 1 else tuple(
                int(rng.integers(n)) for n in output.shape)
            check_cell(browser, model, image, outputs, index, cell, click=False)
    no_console_errors(browser)


@needs_browser
def test_keyboard_moves_and_selects(browser, default_report):
    from selenium.webdriver.common.keys import Keys
    model, image, path = default_report
    open_page(browser, path)
    conv = 1 + [type(layer).__name__ for layer in model.layers].index("Conv2D")
    click_cell(browser, conv, 2, 2, 4)
    canvas = browser.find_element("css selector", f"#explore-layer-{conv} canvas.map")
    canvas.send_keys(Keys.ARROW_RIGHT, Keys.ARROW_RIGHT, Keys.ARROW_DOWN)
    hover = browser.find_element("css selector", f"#explore-layer-{conv} .cell.hover")
    assert (hover.get_attribute("data-row"), hover.get_attribute("data-col")) == ("3", "4")
    canvas.send_keys(Keys.ENTER)
    text, _ = arithmetic(browser)
    assert text == explain(model, image, conv - 1, 3, 4, 4).text
    no_console_errors(browser)


@needs_browser
def test_seed_preset_photo_and_every_layer_kind(browser, tmp_path):
    """The seed network on a colour photo (no data: the report explores the image alone), and a model with every
    layer kind that has arithmetic, with names that would break the page were they not escaped."""
    from PIL import Image
    set_random_seed(1)
    model = build_preset("seed")
    model.save(tmp_path / "seed.clearcnn")
    photo = np.random.default_rng(2).integers(0, 256, (32, 32, 3)).astype(np.uint8)
    Image.fromarray(photo, "RGB").save(tmp_path / "photo.png")
    result = run_cli("report", "seed.clearcnn", "--image", "photo.png", "-o", "r.html", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    open_page(browser, tmp_path / "r.html")
    image = photo.astype(np.float32)
    outputs = [output[0] for _, output in model.layer_outputs(image[None])]
    kinds = [type(layer).__name__ for layer in model.layers]
    check_cell(browser, model, image, outputs, 1 + kinds.index("Conv2D"), strongest(outputs[kinds.index("Conv2D")], 2))
    text = check_cell(browser, model, image, outputs, 1 + kinds.index("Dense"), (0, 0, 7))
    assert "largest first (10 of 7744)" in text

    from clearcnn.explain.report import build_report
    model, image = every_kind_model()
    model.layers[0].name = "<img src=x onerror=alert(1)>"
    path = tmp_path / "every.html"
    path.write_text(build_report(model, None, None, class_names=["</script>", "b", "c", "d"], image=image))
    open_page(browser, path)
    assert model.layers[0].name in browser.find_element("id", "explore-layer-1").text
    for count, (kind_model, kind_image) in enumerate([(model, image), *more_kind_models()]):
        if count:
            path = tmp_path / f"kinds{count}.html"
            path.write_text(build_report(kind_model, None, None, image=kind_image))
            open_page(browser, path)
        model, image = kind_model, kind_image
        outputs = [output[0] for _, output in model.layer_outputs(image[None])]
        for index, output in enumerate(outputs, start=1):
            cells = [(0, 0, u) for u in range(output.size)] if output.ndim == 1 else list(np.ndindex(output.shape))
            for cell in cells[::max(1, len(cells) // 12)]:
                check_cell(browser, model, image, outputs, index, tuple(int(v) for v in cell), click=False)
        no_console_errors(browser)
    renderers = {layer["kind"]: layer["renderer"] for model, image in more_kind_models()
                 for layer in explorer_data(model, image)["layers"]}
    assert "none" not in renderers.values(), renderers


@needs_browser
def test_numbers_are_written_as_python_writes_them(browser, default_report):
    open_page(browser, default_report[2])
    values = [0.0, -0.0, 1.0, -3.0, 0.5, 1.0625, 1.0635, 2.5e-05, 1e-05, 0.0001, 0.00012345, 9.9995, 99995.0, 12345.5,
              1234.5, 1e15, 1e16, -2.5e-7, 123456789.0, 0.1, 1 / 3, -2 / 3, 6.02e23, float(np.float32(0.1)), 5e-324,
              1.7976931348623157e308, 0.00099995, 1e-4 - 1e-20]
    values += list(np.random.default_rng(0).normal(scale=10.0, size=200) ** 3)
    written = browser.execute_script("return arguments[0].map(clearcnnExplorer.number)", [float(v) for v in values])
    assert written == [number(v) for v in values]
