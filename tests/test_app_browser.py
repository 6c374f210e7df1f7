"""The web app in a real headless Chromium (Selenium, Debian's chromium + chromium-driver; nothing
is downloaded): load the page, drag a box on the spectrogram, resample, check the codes outside
the edited cells are unchanged and that the audio element is playable; then undo."""

from __future__ import annotations

import os
import time

import pytest
from editing_fakes import edit_plugins, make_pipeline

from specinpaint.app.server import BackgroundServer, ServerSettings, create_app

CHROMIUM, CHROMEDRIVER = "/usr/bin/chromium", "/usr/bin/chromedriver"

pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(
        not (os.path.exists(CHROMIUM) and os.path.exists(CHROMEDRIVER)),
        reason=f"needs {CHROMIUM} and {CHROMEDRIVER} (Debian packages chromium, chromium-driver)",
    ),
]
webdriver = pytest.importorskip("selenium.webdriver", reason="needs the selenium package")


def _driver():
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for flag in ("--headless", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync",
                 "--no-first-run", "--window-size=1400,1100", "--autoplay-policy=no-user-gesture-required"):
        options.add_argument(flag)
    return webdriver.Chrome(service=Service(executable_path=CHROMEDRIVER), options=options)


def _wait(driver, script: str, timeout: float = 30.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = driver.execute_script(script)
        if value:
            return value
        time.sleep(0.05)
    status = driver.execute_script("return document.getElementById('status').textContent")
    raise AssertionError(f"timed out waiting for: {script} (status: {status})")


def test_draw_resample_play_undo():
    from selenium.webdriver.common.action_chains import ActionChains
    from selenium.webdriver.common.by import By

    with edit_plugins():
        app = create_app(make_pipeline(), ServerSettings(rate_limit_per_minute=0))
        with BackgroundServer(app) as url:
            driver = _driver()
            try:
                driver.get(url + "/")
                _wait(driver, "const s = window.specinpaint; return s && s.edits >= 1 && s.busy === 0")
                before = driver.execute_script("return window.specinpaint.codes")
                assert len(before["top"]) == 4 and len(before["bottom"]) == 8

                canvas = driver.find_element(By.ID, "spectrogram")
                width, height = canvas.size["width"], canvas.size["height"]
                # drag from (10 %, 55 %) to (45 %, 95 %) of the canvas: early time, low frequencies
                ActionChains(driver).move_to_element_with_offset(canvas, int(-0.4 * width), int(0.05 * height)) \
                    .click_and_hold().move_by_offset(int(0.35 * width), int(0.4 * height)).release().perform()
                region = _wait(driver, "return window.specinpaint.region")
                assert 0 <= region["time_s"][0] < region["time_s"][1] <= 0.08
                assert region["freq_hz"][0] < 200 and 1000 < region["freq_hz"][1] < 2600

                driver.find_element(By.ID, "btn-resample").click()
                _wait(driver, "const s = window.specinpaint; return s.edits >= 2 && s.busy === 0")
                state = driver.execute_script("const s = window.specinpaint; return [s.codes, s.lastMasks]")
                after, masks = state
                changed = 0
                for level in ("top", "bottom"):
                    for r, row in enumerate(after[level]):
                        for c, code in enumerate(row):
                            if not masks[level][r][c]:
                                assert code == before[level][r][c], f"{level}[{r}][{c}] changed outside the region"
                            changed += code != before[level][r][c]
                assert changed > 0
                assert any(masks["top"][r][c] for r in range(4) for c in range(4))
                assert not any(masks["top"][3]), "the top row (high frequencies) was outside the box"

                audio = _wait(driver, """const a = document.getElementById('player');
                    return a.readyState >= 2 && !a.error ? [a.readyState, a.duration] : null""")
                assert abs(audio[1] - 0.128) < 0.01
                played = driver.execute_async_script("""const done = arguments[arguments.length - 1];
                    document.getElementById('player').play().then(() => done('ok')).catch(e => done(String(e)));""")
                assert played == "ok"
                assert driver.find_element(By.ID, "download").get_attribute("href").startswith("blob:")

                driver.find_element(By.ID, "btn-undo").click()
                _wait(driver, "const s = window.specinpaint; return s.edits >= 3 && s.busy === 0")
                assert driver.execute_script("return window.specinpaint.codes") == before
                status = driver.find_element(By.ID, "status")
                assert "failed" not in status.text
            finally:
                driver.quit()
