"""Headless Chromium through Selenium for the review-page tests.

``chromium_driver()`` starts the distribution's Chromium (packages ``chromium`` and ``chromium-driver``),
installing them with apt-get when they are missing and this runs as root; otherwise the caller skips with the
reason returned. The browser gets a fresh profile and no network features, so a page that tries to fetch
anything fails the console check instead of reaching out.
"""
from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
from pathlib import Path

CHROMIUM_PACKAGES = ("chromium", "chromium-driver")
CHROMIUM_FLAGS = ("--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                  "--disable-background-networking", "--disable-component-update", "--disable-sync",
                  "--disable-dev-shm-usage", "--autoplay-policy=no-user-gesture-required", "--window-size=1400,1000")


def _binaries() -> tuple[str | None, str | None]:
    return (shutil.which("chromium") or shutil.which("chromium-browser"), shutil.which("chromedriver"))


def ensure_chromium() -> tuple[str, str] | str:
    """``(chromium, chromedriver)`` paths, installing the packages when missing and root; else the reason."""
    browser, driver = _binaries()
    if browser and driver:
        return browser, driver
    if os.geteuid() != 0 or shutil.which("apt-get") is None:
        return (f"headless Chromium not installed (need packages {' '.join(CHROMIUM_PACKAGES)}; "
                "not root or no apt-get, so the test cannot install them)")
    result = subprocess.run(["apt-get", "install", "-y", "--no-install-recommends", *CHROMIUM_PACKAGES],
                            capture_output=True, text=True, timeout=900,
                            env={**os.environ, "DEBIAN_FRONTEND": "noninteractive"})
    browser, driver = _binaries()
    if result.returncode != 0 or not (browser and driver):
        return f"apt-get could not install {' '.join(CHROMIUM_PACKAGES)}: {result.stderr.strip()[-300:]}"
    return browser, driver


def start_chromium(browser: str, driver: str, profile: Path):
    """A Selenium Chrome driver on headless ``browser`` with a fresh ``profile`` folder; console logs kept."""
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = browser
    for flag in CHROMIUM_FLAGS:
        options.add_argument(flag)
    options.add_argument(f"--user-data-dir={profile}")
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    return webdriver.Chrome(service=Service(driver), options=options)


def console_errors(driver) -> list[str]:
    """The browser console's SEVERE entries since the last call."""
    return [entry["message"] for entry in driver.get_log("browser") if entry["level"] == "SEVERE"]


def new_profile() -> Path:
    return Path(tempfile.mkdtemp(prefix="auwgcn-chromium-"))


def screenshot(driver, name: str, tmp_path: Path) -> Path:
    """Saved under tmp_path, and copied to $REVIEW_SCREENSHOTS when set (how docs/images/ is made)."""
    path = tmp_path / name
    driver.save_screenshot(str(path))
    if os.environ.get("REVIEW_SCREENSHOTS"):
        shutil.copy(path, Path(os.environ["REVIEW_SCREENSHOTS"]) / name)
    return path
