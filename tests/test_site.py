"""The docs site: `make docs`'s strict build, what it holds, and the built pages in headless Chromium.

The site is built once per test session (about 10-20 s) into a temporary folder, exactly as
`make docs` builds it into site/."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
pytest.importorskip("mkdocs", reason="MkDocs is in gradtrace's docs extra (and so in dev)")


@pytest.fixture(scope="session")
def site(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("site")
    env = {**os.environ, "NO_MKDOCS_2_WARNING": "1"}
    result = subprocess.run(
        [sys.executable, "-m", "mkdocs", "build", "--strict", "--site-dir", str(folder)],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=600,
    )
    assert result.returncode == 0, f"make docs's build fails:\n{result.stderr[-4000:]}"
    assert "WARNING" not in result.stderr, result.stderr[-4000:]
    return folder


def _notebooks() -> list[Path]:
    return sorted(p for p in (ROOT / "notebooks").rglob("*.ipynb") if ".ipynb_checkpoints" not in p.parts)


def test_the_site_holds_the_readme_the_chapters_every_notebook_and_the_api(site: Path) -> None:
    index = (site / "index.html").read_text(encoding="utf-8")
    assert "Quick start" in index and 'href="autograd.html"' in index  # the README, its docs/ links made site links
    for chapter in ("autograd", "higher-order", "compile", "nn", "viz", "numerics", "speed", "notebooks",
                    "lecture-notes", "api/autograd", "api/nn", "api/viz", "benchmarks/RESULTS"):
        assert (site / f"{chapter}.html").is_file(), chapter
    for notebook in _notebooks():
        page = site / notebook.relative_to(ROOT).with_suffix(".html")
        assert page.is_file(), f"no page for {notebook.relative_to(ROOT)}"
    for figure in (ROOT / "docs" / "figures").iterdir():
        if figure.suffix != ".json":
            assert (site / "figures" / figure.name).is_file(), figure.name


def test_no_page_fetches_anything_from_the_internet(site: Path) -> None:
    """No script, style sheet, font, image or frame from a URL: the site works offline."""
    remote = re.compile(
        r"""<(?:script|img|iframe|source|embed)\b[^>]*\bsrc=["']?(?:https?:)?//|<link\b[^>]*\bhref=["']?(?:https?:)?//"""
        r"""|@import\s+(?:url\()?["']?(?:https?:)?//|url\(\s*["']?(?:https?:)?//|fonts\.googleapis""",
        re.I,
    )
    pages = sorted(site.rglob("*.html")) + sorted(site.rglob("*.css"))
    assert len(pages) > 20
    for page in pages:
        text = page.read_text(encoding="utf-8")
        found = remote.search(text)
        assert found is None, f"{page.relative_to(site)}: {text[max(0, found.start() - 60):found.end() + 60]}"
    notebook = (site / "notebooks" / "04_computational_graph.html").read_text(encoding="utf-8")
    assert '<script src=""' not in notebook  # nbconvert's MathJax loader, its URL left empty, is gone too


def test_explains_latex_is_mathml_in_the_notebook_pages(site: Path) -> None:
    page = (site / "notebooks" / "04_computational_graph.html").read_text(encoding="utf-8")
    assert page.count("<math") >= 2 and "$$" not in page
    assert "<mi>∂</mi>" in page or "&#x02202;" in page or "∂" in page


def _open(browser, page: Path) -> None:
    from selenium.webdriver.support.ui import WebDriverWait

    browser.get(page.as_uri())
    WebDriverWait(browser, 20).until(lambda d: d.execute_script("return document.readyState") == "complete")


def _fetched_from_outside(browser) -> list[str]:
    return browser.execute_script(
        "return performance.getEntriesByType('resource').map(e => e.name).filter(n => !n.startsWith('file:'))"
    )


def test_index_renders_with_its_pictures(browser, site: Path) -> None:
    _open(browser, site / "index.html")
    assert browser.title == "gradtrace"
    shown = browser.execute_script(
        """
        const images = [...document.querySelectorAll('article img')];
        return {h1: document.querySelector('article h1').textContent,
                headings: [...document.querySelectorAll('article h2')].map(h => h.textContent),
                images: images.length,
                drawn: images.filter(i => i.complete && i.naturalWidth > 0).length,
                nav: [...document.querySelectorAll('.md-nav__link')].map(a => a.textContent.trim())};
        """
    )
    assert shown["h1"].startswith("gradtrace")
    assert {"Quick start¶", "Notebooks¶", "The manual¶"} <= set(shown["headings"])
    assert shown["images"] >= 5 and shown["drawn"] == shown["images"]  # every picture loaded from the site
    assert "API reference" in shown["nav"] and "compile" in shown["nav"]
    assert _fetched_from_outside(browser) == []


def test_a_notebook_pages_player_steps(browser, site: Path) -> None:
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import WebDriverWait

    _open(browser, site / "notebooks" / "04_computational_graph.html")
    frame = browser.find_element(By.CSS_SELECTOR, "iframe")
    browser.execute_script("arguments[0].scrollIntoView({block: 'center'})", frame)
    browser.switch_to.frame(frame)
    try:
        WebDriverWait(browser, 10).until(lambda d: d.execute_script("return document.body && document.body.dataset.frame"))
        # the apples-and-mandarins bill: 4 ops, each a frame forward and a frame backward, after the inputs' frame
        assert browser.find_element(By.ID, "counter").text == "step 0 of 9"
        for _ in range(9):
            browser.find_element(By.ID, "next").click()
        assert browser.execute_script("return document.body.dataset.frame") == "9"
        texts = browser.execute_script("return [...document.querySelectorAll('#frame svg text')].map(t => t.textContent)")
        assert {"2.2", "110", "3.3", "165", "650"} <= set(texts)  # the gradients backward() gives, on the last frame
        assert any("∂price/∂orange = 1.1 × 3 = 3.3" in t for t in texts)
    finally:
        browser.switch_to.default_content()
    assert _fetched_from_outside(browser) == []


def test_the_api_page_lists_autograd_compile(browser, site: Path) -> None:
    from selenium.webdriver.common.by import By

    _open(browser, site / "api" / "autograd.html")
    heading = browser.find_element(By.ID, "autograd.compile")
    assert heading.text.startswith("compile")
    body = browser.execute_script("return arguments[0].parentElement.innerText", heading)
    assert "written for one sample" in body
    toc = [a.text for a in browser.find_elements(By.CSS_SELECTOR, ".md-nav--secondary a")]
    assert "compile" in toc or browser.execute_script(
        "return [...document.querySelectorAll('.md-nav--secondary a')].some(a => a.textContent.trim() === 'compile')"
    )


def test_search_works_from_disk(browser, site: Path) -> None:
    """Search runs from file:// (the offline plugin, with the iframe-worker shim from the site itself)."""
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import WebDriverWait

    _open(browser, site / "index.html")
    browser.find_element(By.CSS_SELECTOR, "input.md-search__input").click()  # the header's search box
    browser.find_element(By.CSS_SELECTOR, "input.md-search__input").send_keys("hessian")
    titles = WebDriverWait(browser, 20).until(lambda d: d.execute_script(
        "return [...document.querySelectorAll('.md-search-result__item h1, .md-search-result__item h2')]"
        ".map(e => e.textContent.trim())"
    ))
    assert "hessian" in titles
    assert _fetched_from_outside(browser) == []
