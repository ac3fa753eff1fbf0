"""Fixtures every test file shares."""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

import autograd


@pytest.fixture(autouse=True)
def own_ops() -> Iterator[None]:
    """Whatever op a test registers (``@autograd.primitive``) leaves autograd.OPS when it ends."""
    before = set(autograd.OPS)
    yield
    for name in set(autograd.OPS) - before:
        autograd.OPS.pop(name, None)
    assert set(autograd.OPS) == before


CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
CHROMEDRIVER = shutil.which("chromedriver") or ("/usr/bin/chromedriver" if Path("/usr/bin/chromedriver").exists() else None)


@pytest.fixture(scope="session")
def browser() -> Iterator[Any]:
    """Headless Chromium from the system's packages, driven by selenium through the system's
    chromedriver (selenium never downloads one). Tests that use it skip, saying why, without them."""
    if CHROMIUM is None or CHROMEDRIVER is None:
        pytest.skip("no Chromium with chromedriver on this machine (Debian: apt-get install chromium chromium-driver)")
    webdriver = pytest.importorskip("selenium.webdriver", reason="selenium is in gradtrace's dev extra")
    from selenium.webdriver.chrome.options import Options
    from selenium.webdriver.chrome.service import Service

    profile = tempfile.mkdtemp(prefix="gradtrace-chromium-")
    options = Options()
    options.binary_location = CHROMIUM
    for flag in ("--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync",
                 "--disable-dev-shm-usage", f"--user-data-dir={profile}", "--window-size=1200,800"):
        options.add_argument(flag)
    driver = webdriver.Chrome(service=Service(executable_path=CHROMEDRIVER), options=options)
    try:
        yield driver
    finally:
        driver.quit()
        shutil.rmtree(profile, ignore_errors=True)
