"""Headless Chromium through selenium, pointed at Debian's ``chromium`` and ``chromedriver``.

Skips only when chromium is absent and this user could not install it (not root); as root a
missing browser is a failure, because ``.ci/run`` installs it.
"""

from __future__ import annotations

import os
from typing import Any

import pytest

CHROMIUM = ("/usr/bin/chromium", "/usr/bin/chromedriver")


def require_chromium() -> None:
    missing = [p for p in CHROMIUM if not os.path.exists(p)]
    if not missing:
        return
    if os.geteuid() != 0:
        pytest.skip(f"{', '.join(missing)} missing and not root: apt-get install -y chromium chromium-driver")
    pytest.fail(f"{', '.join(missing)} missing: run .ci/run (or apt-get install -y chromium chromium-driver)")


def chromium(width: int = 1400, height: int = 1000) -> Any:
    """A headless Chromium WebDriver that records the page's console messages."""
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    require_chromium()
    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM[0]
    for arg in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--disable-gpu"):
        options.add_argument(arg)
    options.add_argument(f"--window-size={width},{height}")
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    return webdriver.Chrome(service=Service(CHROMIUM[1]), options=options)


def screenshot_dir() -> str | None:
    """Where tests keep screenshots for the docs (``STOKER_SCREENSHOT_DIR``), or None."""
    path = os.environ.get("STOKER_SCREENSHOT_DIR")
    if path:
        os.makedirs(path, exist_ok=True)
    return path


def svg_to_png(svg_path: str, png_path: str, width: int, height: int) -> None:
    """Renders an SVG file to PNG with the same headless Chromium."""
    driver = chromium(width, height)
    try:
        driver.get("file://" + os.path.abspath(svg_path))
        driver.save_screenshot(png_path)
    finally:
        driver.quit()
    from PIL import Image, ImageChops

    # Chromium centres the SVG on a white page: keep only the drawing.
    with Image.open(png_path) as img:
        rgb = img.convert("RGB")
    box = ImageChops.difference(rgb, Image.new("RGB", rgb.size, "white")).getbbox()
    if box:
        rgb.crop(box).save(png_path)
