"""Make docs/explorer.png: the Explore section of a report, for a default digit model trained briefly.

Run from the repository root: .venv/bin/python docs/make_screenshot.py
Needs matplotlib, Pillow, selenium, and Debian's chromium and chromium-driver (or any chromedriver on PATH).
"""
import pathlib
import shutil
import sys
import tempfile

import numpy as np

from clearcnn.datasets import load_mnist10k
from clearcnn.explain.report import build_report
from clearcnn.presets import build_preset
from clearcnn.utils import set_random_seed

OUT = pathlib.Path(__file__).resolve().parent / "explorer.png"


def trained_model():
    set_random_seed(0)
    (x, y), _ = load_mnist10k()
    model = build_preset("default")
    model.compile("adam", "sparse_categorical_crossentropy", ["accuracy"])
    model.fit(x[:4000, ..., None], y[:4000], epochs=1, batch_size=64, verbose=0)
    return model


def main():
    from selenium import webdriver
    from selenium.webdriver.chrome.options import Options
    from selenium.webdriver.chrome.service import Service
    model = trained_model()
    _, (xt, yt) = load_mnist10k()
    page = build_report(model, xt[:200, ..., None], yt[:200], [str(i) for i in range(10)], image=xt[7][..., None],
                        image_caption="A test digit.")
    folder = pathlib.Path(tempfile.mkdtemp())
    (folder / "report.html").write_text(page)
    options = Options()
    options.binary_location = shutil.which("chromium") or shutil.which("google-chrome")
    for flag in ("--headless=new", "--no-sandbox", "--disable-gpu", "--window-size=1280,900",
                 "--force-device-scale-factor=1", "--hide-scrollbars"):
        options.add_argument(flag)
    browser = webdriver.Chrome(service=Service(shutil.which("chromedriver")), options=options)
    try:
        browser.get((folder / "report.html").as_uri())
        kinds = [layer["kind"] for layer in browser.execute_script("return clearcnnExplorer.layers()")]
        conv = kinds.index("Conv2D")  # the first conv layer, its window marked on the rescaled digit below it
        outputs = [output[0] for _, output in model.layer_outputs(xt[7][None, ..., None])]
        channel = 3
        row, col = np.unravel_index(int(np.argmax(outputs[conv - 1][:, :, channel])), outputs[conv - 1].shape[:2])
        browser.execute_script("clearcnnExplorer.select(...arguments)", conv, int(row), int(col), channel)
        browser.execute_script("document.getElementById('explore-layer-' + arguments[0]).scrollIntoView()", conv - 1)
        browser.save_screenshot(str(OUT))
    finally:
        browser.quit()
        shutil.rmtree(folder)
    print(f"Wrote {OUT}")


if __name__ == "__main__":
    sys.exit(main())
