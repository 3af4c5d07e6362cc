"""The page at `/` of `xornet serve`, in the system's Chromium driven headless by Selenium."""

import json
import shutil

import pytest

from conftest import REPO
from test_serve import Server, cli_json, train

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
CHROMEDRIVER = shutil.which("chromedriver")
pytestmark = pytest.mark.skipif(
    not (CHROMIUM and CHROMEDRIVER),
    reason="no Chromium: the page test needs Debian's chromium and chromium-driver (apt-get install chromium chromium-driver)")


@pytest.fixture(scope="module")
def browser(tmp_path_factory):
    """A headless Chromium."""
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for flag in ("--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync",
                 f"--user-data-dir={tmp_path_factory.mktemp('chromium-profile')}", "--window-size=1000,1500"):
        options.add_argument(flag)
    browser = webdriver.Chrome(options=options, service=Service(executable_path=CHROMEDRIVER))
    yield browser
    browser.quit()


def load_page(browser, running):
    """Open the page of the server `running` and wait until it has drawn everything (or shown an error)."""
    from selenium.webdriver.support.ui import WebDriverWait

    browser.get(running.url + "/")
    WebDriverWait(browser, 30).until(
        lambda b: b.execute_script("return document.body.dataset.ready === '1' || "
                                   "document.getElementById('facts').className === 'error'"))


@pytest.fixture(scope="module")
def page(browser, tmp_path_factory):
    """A server on a freshly trained XOR model, and the headless Chromium with its page loaded."""
    model = train(tmp_path_factory.mktemp("page") / "models")
    running = Server("--model", model)
    try:
        load_page(browser, running)
        yield browser, model
    finally:
        assert running.stop() == 0


def test_page_shows_layers_and_training_curves(page):
    browser, _ = page
    assert browser.find_element("id", "facts").get_attribute("class") != "error", browser.find_element("id", "facts").text
    rows = [row.text for row in browser.find_elements("css selector", "#layers tbody tr")]
    assert rows == ["dense Dense linear 10 30", "activation Activation tanh 10 0", "dense_1 Dense linear 1 11",
                    "activation_1 Activation sigmoid 1 0", "total 41"]
    metrics = [c.get_attribute("data-metric") for c in browser.find_elements("css selector", "#curves canvas")]
    assert metrics == ["loss", "accuracy"]


def surface_color(browser, x, y):
    """The [r, g, b] the surface canvas shows for input (x, y)."""
    return browser.execute_script("""
        const canvas = document.getElementById('surface'), box = JSON.parse(canvas.dataset.box);
        const px = Math.floor(canvas.width * (arguments[0] - box.x0) / (box.x1 - box.x0));
        const py = Math.floor(canvas.height * (box.y1 - arguments[1]) / (box.y1 - box.y0));
        return Array.from(canvas.getContext('2d').getImageData(px, py, 1, 1).data.slice(0, 3));""", x, y)


def test_decision_surface_shows_xor(page):
    browser, _ = page
    assert browser.execute_script("return document.getElementById('surface').dataset.ready") == "1"
    blank = browser.execute_script("""
        const c = document.getElementById('surface'), d = c.getContext('2d').getImageData(0, 0, c.width, c.height).data;
        let unpainted = 0; for (let i = 3; i < d.length; i += 4) if (d[i] === 0) unpainted++;
        return unpainted;""")
    assert blank == 0  # every pixel painted from a /predict answer
    # Beside each training point (not on its circle), the surface has the XOR class: red 1, blue 0.
    for (x, y), expected in {(0.1, 0.1): 0, (0.1, 0.9): 1, (0.9, 0.1): 1, (0.9, 0.9): 0}.items():
        red, _, blue = surface_color(browser, x, y)
        assert (red > blue) == bool(expected), ((x, y), red, blue)


def test_form_answers_as_xornet_predict(page, tmp_path_factory):
    browser, model = page
    for index, value in enumerate(("1", "0")):
        field = browser.find_element("id", f"input-{index}")
        field.clear()
        field.send_keys(value)
    browser.find_element("css selector", "#try button").click()
    from selenium.webdriver.support.ui import WebDriverWait

    answer = WebDriverWait(browser, 10).until(lambda b: b.find_element("id", "answer-json").text)
    expected = cli_json("predict", "--model", model, "--x", "1,0", "--format", "json")
    assert json.loads(answer) == expected[0]
    assert browser.find_element("id", "answer").text == f"class 1 (probability {expected[0]['probability']:.4f})"
    screenshot = tmp_path_factory.mktemp("artifacts") / "xornet_serve_page.png"
    browser.save_screenshot(str(screenshot))
    print(f"screenshot: {screenshot}")
    assert screenshot.stat().st_size > 10_000


def submit_form(browser, values):
    """Type `values` into the form's fields, press Predict, and return the answer's JSON once it is shown."""
    from selenium.webdriver.support.ui import WebDriverWait

    for index, value in enumerate(values):
        field = browser.find_element("id", f"input-{index}")
        field.clear()
        field.send_keys(value)
    browser.find_element("css selector", "#try button").click()
    return json.loads(WebDriverWait(browser, 10).until(lambda b: b.find_element("id", "answer-json").text))


def test_form_names_the_class_of_a_multi_class_model_as_xornet_predict(browser, tmp_path_factory):
    model = train(tmp_path_factory.mktemp("iris") / "models", config=REPO / "configs/iris.yaml")
    running = Server("--model", model)
    try:
        load_page(browser, running)
        assert browser.find_element("id", "facts").text.startswith("multi-class classification · 140 parameters")
        answer = submit_form(browser, ("6.3", "3.3", "6", "2.5"))
    finally:
        assert running.stop() == 0
    [expected] = cli_json("predict", "--model", model, "--x", "6.3,3.3,6,2.5", "--format", "json")
    assert answer == expected and expected["class"] == "virginica"
    shown = ", ".join(f"{name} {p:.4f}" for name, p in expected["probabilities"].items())
    assert browser.find_element("id", "answer").text == f"class virginica (probability {shown})"


def test_form_shows_a_regression_models_value_as_xornet_predict(browser, tmp_path_factory):
    model = train(tmp_path_factory.mktemp("diabetes") / "models", "--epochs", "20", config=REPO / "configs/diabetes.yaml")
    values = ("59", "2", "32.1", "101", "157", "93.2", "38", "4", "4.8598", "87")
    running = Server("--model", model)
    try:
        load_page(browser, running)
        assert browser.find_element("id", "facts").text.startswith("regression · ")
        answer = submit_form(browser, values)
    finally:
        assert running.stop() == 0
    [expected] = cli_json("predict", "--model", model, "--x", ",".join(values), "--format", "json")
    assert answer == expected and sorted(expected) == ["input", "prediction"]
    assert browser.find_element("id", "answer").text == f"prediction {expected['prediction']:.4f}"
