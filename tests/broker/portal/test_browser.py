"""A scientist in a real browser: log in, find an object, see its light curve and cutouts,
write, backtest and register a filter, watch its topic fill, get Kafka credentials and read it.

Headless Chromium from Debian's packages (``/usr/bin/chromium`` driven by
``/usr/bin/chromedriver`` through Selenium) against the real portal, Kafka
and Spark of ``world``.  Canvases are checked pixel by pixel (points of each
band's colour drawn), screenshots are decoded and must not be flat, images
must have loaded at the cutouts' size.
"""

from __future__ import annotations

import shutil
import struct
import tempfile
import time
import zlib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from selenium import webdriver
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.by import By
from selenium.webdriver.support import expected_conditions as ec
from selenium.webdriver.support.ui import WebDriverWait

from broker.kafka.consume import decode_output, read_topic
from broker.kafka.credentials import read_properties, settings_with_credentials
from tests.broker.portal.conftest import LSST_FILES, World

pytestmark = pytest.mark.integration
CHROMIUM, CHROMEDRIVER = "/usr/bin/chromium", "/usr/bin/chromedriver"
# the band colours of static/portal.js: g and r points must be on the light curve
BAND_RGB = {"g": (26, 152, 80), "r": (215, 48, 39)}
CANVAS_PIXELS = """
const c = document.getElementById(arguments[0]);
const d = c.getContext('2d').getImageData(0, 0, c.width, c.height).data;
const wanted = arguments[1];
const found = wanted.map(() => 0);
let ink = 0;
for (let i = 0; i < d.length; i += 4) {
  if (d[i] < 240 || d[i + 1] < 240 || d[i + 2] < 240) ink++;
  wanted.forEach((w, j) => {
    if (d[i] === w[0] && d[i + 1] === w[1] && d[i + 2] === w[2]) found[j]++;
  });
}
return [ink, found, c.width * c.height];
"""


def png_is_not_flat(png: bytes) -> bool:
    """Whether a screenshot (PNG) shows more than one colour (decoded with zlib only)."""
    assert png[:8] == b"\x89PNG\r\n\x1a\n"
    data, pos = b"", 8
    while pos < len(png):
        (size,) = struct.unpack(">I", png[pos : pos + 4])
        if png[pos + 4 : pos + 8] == b"IDAT":
            data += png[pos + 8 : pos + 8 + size]
        pos += 12 + size
    return len(set(zlib.decompress(data))) > 32


@pytest.fixture(scope="module")
def downloads() -> Iterator[Path]:
    path = Path(tempfile.mkdtemp(prefix="faucon-downloads-"))
    yield path
    shutil.rmtree(path, ignore_errors=True)


@pytest.fixture(scope="module")
def browser(downloads: Path) -> Iterator[webdriver.Chrome]:
    """Headless Debian Chromium with a fresh profile and no background network."""
    for path in (CHROMIUM, CHROMEDRIVER):
        assert Path(path).exists(), f"{path} missing: `make setup` installs chromium-driver"
    profile = tempfile.mkdtemp(prefix="faucon-chromium-")
    opts = webdriver.ChromeOptions()
    opts.binary_location = CHROMIUM
    for arg in (
        "--headless=new",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-dev-shm-usage",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--no-first-run",
        "--window-size=1280,1600",
        f"--user-data-dir={profile}",
    ):
        opts.add_argument(arg)
    opts.add_experimental_option(
        "prefs",
        {"download.default_directory": str(downloads), "download.prompt_for_download": False},
    )
    driver = webdriver.Chrome(service=Service(CHROMEDRIVER), options=opts)
    driver.execute_cdp_cmd(
        "Browser.setDownloadBehavior", {"behavior": "allow", "downloadPath": str(downloads)}
    )
    try:
        yield driver
    finally:
        driver.quit()
        shutil.rmtree(profile, ignore_errors=True)


def wait(driver: webdriver.Chrome, seconds: float = 60) -> WebDriverWait[Any]:
    return WebDriverWait(driver, seconds)


def test_log_in_find_an_object_and_see_its_light_curve_and_cutouts(
    world: World, browser: webdriver.Chrome, tmp_path: Path
) -> None:
    browser.get(f"{world.url}/")
    assert "/login" in browser.current_url, "no page without login"
    browser.find_element(By.ID, "username").send_keys("vera")
    browser.find_element(By.ID, "password").send_keys(world.passwords["vera"])
    browser.find_element(By.ID, "login").click()
    wait(browser).until(ec.presence_of_element_located((By.ID, "id-search")))
    browser.find_element(By.ID, "q").send_keys("ZTF17aaawgox")
    browser.find_element(By.ID, "find-id").click()
    wait(browser).until(ec.text_to_be_present_in_element((By.ID, "object-id"), "ZTF17aaawgox"))
    ink, (g, r), size = browser.execute_script(
        CANVAS_PIXELS, "lightcurve", [BAND_RGB["g"], BAND_RGB["r"]]
    )
    assert ink > 0.02 * size and g > 50 and r > 50, (ink, g, r)
    legend = browser.find_element(By.ID, "lc-legend").text
    assert "g (" in legend and "r (" in legend
    scores_ink = browser.execute_script(CANVAS_PIXELS, "scores", [])[0]
    assert scores_ink > 1000
    magnitude = browser.find_element(By.ID, "lightcurve").screenshot_as_png
    browser.find_element(By.ID, "mode-flux").click()
    flux = browser.find_element(By.ID, "lightcurve").screenshot_as_png
    assert png_is_not_flat(magnitude) and png_is_not_flat(flux) and magnitude != flux
    for kind in ("science", "template", "difference"):
        img = browser.find_element(By.ID, f"cutout-{kind}")
        loaded = browser.execute_script(
            "return [arguments[0].complete, arguments[0].naturalWidth, arguments[0].naturalHeight]",
            img,
        )
        assert loaded == [True, 63, 63], kind
        assert png_is_not_flat(img.screenshot_as_png), kind
    page = tmp_path / "object.png"
    page.write_bytes(browser.get_screenshot_as_png())
    assert png_is_not_flat(page.read_bytes())


def test_cone_search_from_the_search_page(world: World, browser: webdriver.Chrome) -> None:
    browser.get(f"{world.url}/")
    rec = next(r for r in world.records if r["object_id"] == "ZTF17aaawgox")
    for field, value in (("ra", rec["ra"]), ("dec", rec["dec"]), ("radius", 0.01)):
        box = browser.find_element(By.ID, field)
        box.clear()
        box.send_keys(str(value))
    browser.find_element(By.ID, "find-cone").click()
    wait(browser).until(ec.presence_of_element_located((By.ID, "results-title")))
    objects = {a.text for a in browser.find_elements(By.CSS_SELECTOR, "#alerts a.object")}
    assert objects == {"ZTF17aaawgox"}
    box = browser.find_element(By.ID, "radius")
    box.clear()
    box.send_keys("45")
    browser.find_element(By.ID, "find-cone").click()
    error = wait(browser).until(ec.presence_of_element_located((By.ID, "error")))
    assert "radius" in error.text


def test_write_backtest_register_a_filter_and_watch_its_topic_fill(
    world: World, browser: webdriver.Chrome
) -> None:
    browser.get(f"{world.url}/filters/new")
    result = browser.find_element(By.ID, "editor-result")
    browser.find_element(By.ID, "f-name").send_keys("vera_rubin")
    box = browser.find_element(By.ID, "f-expression")
    box.clear()
    box.send_keys("survey = 'LSST' AND flux >")
    browser.find_element(By.ID, "validate").click()
    wait(browser).until(lambda _d: "422" in result.text)
    assert "vera_rubin" in result.text and "syntax" in result.text.lower()
    box.clear()
    box.send_keys("survey = 'LSST' AND snr > 5")
    browser.find_element(By.ID, "validate").click()
    wait(browser).until(lambda _d: result.text.startswith("Valid."))
    assert "snr" in result.text and "survey" in result.text
    browser.find_element(By.ID, "backtest").click()
    wait(browser, 120).until(lambda _d: "alerts passed" in result.text)
    summary = browser.find_element(By.ID, "bt-summary").text
    recent = world.portal.store.recent_records(1000)
    expected = sum(1 for r in recent if r["survey"] == "LSST" and (r["snr"] or 0) > 5)
    assert summary.startswith(f"{expected} of {len(recent)} alerts passed"), summary
    assert browser.find_elements(By.CSS_SELECTOR, "#bt-sample li")
    browser.find_element(By.ID, "f-description").send_keys("Rubin alerts above 5 sigma")
    browser.find_element(By.ID, "submit").click()
    link = wait(browser, 120).until(ec.presence_of_element_located((By.ID, "registered")))
    assert link.text == "vera_rubin"
    spec = world.portal.registry().show("vera_rubin")
    assert (spec.owner, spec.version) == ("vera", 1)
    assert spec.expression == "survey = 'LSST' AND snr > 5"
    # in force within two micro-batches: new Rubin alerts then reach its topic
    time.sleep(
        2 * (world.settings.filters.registry_refresh_s + world.settings.spark.trigger_seconds)
    )
    browser.get(f"{world.url}/filters/vera_rubin/live")
    sent = world.replay([LSST_FILES[1]], "lsst")
    assert sent == 5
    rows = "#live-alerts tbody tr a.object"
    wait(browser, 120).until(lambda d: len(d.find_elements(By.CSS_SELECTOR, rows)) >= 1)
    topic = f"{world.prefix}.filter.vera_rubin"
    published = [decode_output(m.value) for m in read_topic(world.admin, topic, idle_timeout=5)]
    assert published and all(r["survey"] == "LSST" and r["snr"] > 5 for r in published)
    wait(browser, 60).until(lambda d: len(d.find_elements(By.CSS_SELECTOR, rows)) == len(published))
    shown = {a.text for a in browser.find_elements(By.CSS_SELECTOR, rows)}
    assert shown == {r["object_id"] for r in published}
    browser.get(f"{world.url}/filters/vera_rubin")
    assert browser.find_element(By.ID, "filter-state").text == "enabled"
    assert "created by vera (portal)" in browser.find_element(By.ID, "changelog").text


def test_get_credentials_and_read_the_filter_topic(
    world: World, browser: webdriver.Chrome, downloads: Path
) -> None:
    from broker.core.errors import AccessDenied

    browser.get(f"{world.url}/account")
    topic = f"{world.prefix}.filter.vera_rubin"
    assert topic in browser.find_element(By.ID, "topics").text
    browser.find_element(By.ID, "credentials").click()
    target = downloads / "vera.properties"
    deadline = time.monotonic() + 60
    while not target.is_file() and time.monotonic() < deadline:
        time.sleep(0.2)
    assert target.is_file(), list(downloads.iterdir())
    props = read_properties(target)
    assert props["sasl.username"] == "vera" and props["security.protocol"] == "SASL_PLAINTEXT"
    as_vera = settings_with_credentials(world.settings, target)
    got = [decode_output(m.value) for m in read_topic(as_vera, topic, idle_timeout=10)]
    assert got and all(r["survey"] == "LSST" for r in got)
    with pytest.raises(AccessDenied):
        list(read_topic(as_vera, f"{world.prefix}.filter.bright_transient", idle_timeout=10))
    browser.get(f"{world.url}/account")
    assert props["sasl.password"] not in browser.page_source, "shown once, in the download only"


def test_a_scientist_cannot_open_operator_pages_and_can_log_out(
    world: World, browser: webdriver.Chrome
) -> None:
    browser.get(f"{world.url}/users")
    assert "only an operator" in browser.find_element(By.ID, "error").text
    browser.get(f"{world.url}/")
    browser.find_element(By.ID, "logout").click()
    wait(browser).until(ec.presence_of_element_located((By.ID, "login")))
    browser.get(f"{world.url}/account")
    assert "/login" in browser.current_url
