"""The saved player page in a real browser: headless Chromium from the system's packages
(/usr/bin/chromium with its chromedriver; .ci/run installs them), driven by selenium (the
``browser`` fixture in conftest.py).
Steps with the keyboard and with the buttons and checks what is shown."""

from __future__ import annotations

from pathlib import Path

import pytest

from autograd import Value
from viz import backprop_player


@pytest.fixture(scope="module")
def page(tmp_path_factory: pytest.TempPathFactory) -> Path:
    apple, num, tax = Value(100, label="apple"), Value(2, label="apple_num"), Value(1.1, label="tax")
    price = apple * num * tax
    price.label = "price"
    return backprop_player(price).save(tmp_path_factory.mktemp("player") / "apple.html")


def ready(driver) -> None:
    """Wait until the player's script has shown its first frame (an iframe's srcdoc loads late)."""
    from selenium.webdriver.support.ui import WebDriverWait

    WebDriverWait(driver, 10).until(lambda d: d.execute_script("return document.body && document.body.dataset.frame"))


def shown(driver) -> dict:
    """What the page shows: the frame number, the lit node's titles, and every SVG text."""
    return driver.execute_script(
        """
        const svg = document.querySelector('#frame svg');
        const lit = [...svg.querySelectorAll('g.node.current > title')].map(t => t.textContent).sort();
        const texts = [...svg.querySelectorAll('text')].map(t => t.textContent);
        return {frame: Number(document.body.dataset.frame), lit: lit, texts: texts,
                counter: document.getElementById('counter').textContent,
                edges: svg.querySelectorAll('g.edge.current').length};
        """
    )


def test_keyboard_and_buttons_step_through_the_frames(browser, page: Path) -> None:
    from selenium.webdriver.common.by import By
    from selenium.webdriver.common.keys import Keys

    browser.get(page.as_uri())
    ready(browser)
    first = shown(browser)
    assert first["frame"] == 0 and first["counter"] == "step 0 of 5"
    assert first["lit"] == [] and "220" not in first["texts"]  # price not computed yet: blank
    browser.find_element(By.ID, "frame").click()  # a reader clicks into the player, then uses the keys
    body = browser.find_element(By.TAG_NAME, "body")
    body.send_keys(Keys.ARROW_RIGHT)
    after_one = shown(browser)
    assert after_one["frame"] == 1 and after_one["lit"] == ["op1", "v1"] and after_one["edges"] == 2
    assert "200" in after_one["texts"] and "220" not in after_one["texts"]
    body.send_keys(Keys.ARROW_RIGHT, Keys.ARROW_RIGHT)  # the seed frame: ∂price/∂price = 1 only
    seed = shown(browser)
    assert seed["frame"] == 3 and "2.2" not in seed["texts"] and "110" not in seed["texts"]
    browser.find_element(By.ID, "next").click()
    browser.find_element(By.ID, "next").click()
    last = shown(browser)
    assert last["frame"] == 5 and last["lit"] == ["op1", "v1"] and last["edges"] == 2
    assert {"2.2", "110", "200", "1.1"} <= set(last["texts"])
    assert any("∂price/∂apple = 1.1 × 2 = 2.2" in t for t in last["texts"])
    browser.find_element(By.ID, "next").click()  # past the end: stays on the last frame
    assert shown(browser)["frame"] == 5
    browser.find_element(By.ID, "prev").click()
    back = shown(browser)
    assert back["frame"] == 4 and back["lit"] == ["op0", "v0"] and "2.2" not in back["texts"]
    body.send_keys(Keys.ARROW_LEFT)
    assert shown(browser)["frame"] == 3


def test_slider_and_play(browser, page: Path) -> None:
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import WebDriverWait

    browser.get(page.as_uri())
    ready(browser)
    browser.execute_script(
        "const s = document.getElementById('slider'); s.value = 4; s.dispatchEvent(new Event('input'));"
    )
    assert shown(browser)["frame"] == 4
    browser.find_element(By.ID, "play").click()
    WebDriverWait(browser, 10).until(lambda d: shown(d)["frame"] == 5)
    assert "play" in browser.find_element(By.ID, "play").text  # stopped at the end
    assert browser.execute_script("return document.querySelectorAll('script[src], link, img[src^=http]').length") == 0


def test_screenshot_shows_the_player(browser, page: Path, tmp_path: Path) -> None:
    browser.get(page.as_uri())
    ready(browser)
    browser.execute_script("document.getElementById('slider').value = 5; document.getElementById('slider').oninput()")
    shot = tmp_path / "player.png"
    assert browser.save_screenshot(str(shot))
    from PIL import Image

    with Image.open(shot) as image:
        colors = {rgb[:3] for _, rgb in image.convert("RGB").getcolors(1 << 20)}
    assert (0xFF, 0xD5, 0x4F) in colors  # the lit × node is painted on screen


def test_the_inline_iframe_plays_inside_a_page(browser, tmp_path: Path) -> None:
    """What Jupyter shows: the _repr_html_ iframe inside a host page, its script isolated."""
    from selenium.webdriver.common.action_chains import ActionChains
    from selenium.webdriver.common.by import By
    from selenium.webdriver.common.keys import Keys

    x = Value(0.5, label="x")
    y = (x * x).tanh()
    y.label = "y"
    host = tmp_path / "notebook.html"
    host.write_text(f"<!DOCTYPE html><html><body><h1>a notebook cell</h1>{backprop_player(y)._repr_html_()}</body></html>",
                    encoding="utf-8")
    browser.get(host.as_uri())
    browser.switch_to.frame(browser.find_element(By.TAG_NAME, "iframe"))
    try:
        ready(browser)
        assert shown(browser)["frame"] == 0
        browser.find_element(By.ID, "frame").click()  # as a reader would: click into the player, then keys
        ActionChains(browser).send_keys(Keys.ARROW_RIGHT, Keys.END).perform()
        last = shown(browser)
        assert last["counter"] == "step 5 of 5"  # inputs, ×, tanh; seed, tanh, ×
        assert any("∂y/∂x += " in t for t in last["texts"])  # x is used twice: the paths add up
    finally:
        browser.switch_to.default_content()
    assert browser.find_element(By.TAG_NAME, "h1").text == "a notebook cell"


HOSTILE = [
    '<x> URL="javascript:alert(document.domain)" label=<PWNED> y=<z>',
    "</script><script>alert(2)</script>",
    "<!--<script>",
    "<img src=x onerror=alert(3)>",
    "__FRAMES__",
    "__SVG__",
    "\\N \" ' & <b>b</b>",
    "\u202eevil",
]


def test_a_page_with_hostile_names_runs_and_shows_them_as_text(browser, tmp_path: Path) -> None:
    """Names that tried to become links, scripts or attributes: in the live page they are text
    (in texts, tooltips and the aria-label that reads the caption out)."""
    import autograd

    terms, names = [], {}
    for k, text in enumerate(HOSTILE):
        op = autograd.primitive(lambda x: 2.0 * x, name=f"{text}#{k}", symbol=text)
        op.derivative(lambda g, out, x: 2.0 * g)
        weight = Value(0.5)
        names[text] = weight
        terms.append(op(Value(k + 1.0, label=text) * weight))
    total = autograd.sum(terms)
    total.label = HOSTILE[0]
    page = backprop_player(total, names=names).save(tmp_path / "hostile.html")
    # an alert would block a headless page: record calls instead, before any script of the page runs
    browser.execute_cdp_cmd("Page.addScriptToEvaluateOnNewDocument",
                            {"source": "window.__alerts = []; window.alert = function (m) { window.__alerts.push(String(m)); };"})
    browser.get(page.as_uri())
    ready(browser)
    start = browser.current_url
    browser.execute_script("document.getElementById('slider').value = 40; document.getElementById('slider').oninput()")
    found = browser.execute_script(
        """
        const bad = [];
        for (const e of document.querySelectorAll('*')) {
          for (const a of e.attributes) {
            if (/^on/i.test(a.name) || /href|src|action/i.test(a.localName)) bad.push(e.tagName + ' ' + a.name);
            if (/javascript:/i.test(a.value) && !['title', 'aria-label'].includes(a.localName)) bad.push(e.tagName + ' ' + a.name + '=' + a.value);
          }
        }
        // click every node, edge and tooltip anchor, as the reader of the original exploit did
        for (const e of document.querySelectorAll('#frame g, #frame a')) e.dispatchEvent(new MouseEvent('click', {bubbles: true}));
        return {bad: bad, scripts: document.scripts.length, links: document.querySelectorAll('a[href], [*|href]').length,
                texts: [...document.querySelectorAll('#frame text')].map(t => t.textContent),
                frame: Number(document.body.dataset.frame), alerts: window.__alerts};
        """
    )
    assert found["bad"] == [] and found["scripts"] == 1 and found["links"] == 0
    assert found["alerts"] == [] and browser.current_url == start
    assert found["frame"] > 0  # the page's script ran and stepped
    shown = "\n".join(found["texts"])
    for text in HOSTILE[:-1]:
        assert text in shown, text  # as text, in the drawing
    assert "\\u202eevil" in shown  # the direction override is shown as an escape, not obeyed
    assert "PWNED" not in [t.strip() for t in found["texts"]]  # never a label of its own


def test_the_network_player_lights_each_layer_and_writes_its_deltas(browser, tmp_path: Path) -> None:
    import random

    import autograd
    import nn

    model = nn.MLP(2, [2, 2], activation="sigmoid", output_activation="sigmoid", rng=random.Random(0))
    out = model([0.05, 0.10])
    loss = autograd.sum([0.5 * (a - t) ** 2 for a, t in zip(out, [0.01, 0.99])])
    player = backprop_player(loss, names=model, view="network")
    page = player.save(tmp_path / "network.html")
    browser.get(page.as_uri())
    ready(browser)
    state = """
        const svg = document.querySelector('#frame svg');
        return {frame: Number(document.body.dataset.frame),
                lit: [...svg.querySelectorAll('g.node.current > title')].map(t => t.textContent).sort(),
                edges: svg.querySelectorAll('g.edge.current').length,
                bold: [...svg.querySelectorAll('text.fresh')].map(t => t.textContent),
                texts: [...svg.querySelectorAll('text')].map(t => t.textContent)};
    """
    first = browser.execute_script(state)
    assert first["frame"] == 0 and first["lit"] == ["n0_0", "n0_1"] and first["edges"] == 0
    browser.execute_script("document.getElementById('slider').value = 3; document.getElementById('slider').oninput()")
    outputs = browser.execute_script(state)  # the output layer's deltas, just computed, in bold
    assert outputs["lit"] == ["n2_0", "n2_1"] and len(outputs["bold"]) == 2
    assert all(text.startswith("δ") for text in outputs["bold"])
    assert outputs["bold"] == [line.split(" = ")[0] + " = " + line.rsplit(" = ", 1)[1] for line in player.steps[3].caption[1:]]
    browser.execute_script("document.getElementById('slider').value = 6; document.getElementById('slider').oninput()")
    last = browser.execute_script(state)
    assert last["edges"] == 4 and len(last["bold"]) == 4  # the first layer's weights and their gradients
    loss.backward()
    shown = set(last["texts"])
    for neuron in model.layers[0].neurons:
        assert {format(w.grad, ".4g") for w in neuron.w} <= shown
