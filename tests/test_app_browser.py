"""The web app in a real headless Chromium (Selenium, Debian's chromium + chromium-driver; nothing
is downloaded): load the page, drag a box on the spectrogram, resample, check the codes outside
the edited cells are unchanged and that the audio element is playable; then undo."""

from __future__ import annotations

import os
import time

import pytest

from fakes.editing import edit_plugins, make_pipeline
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
                status = driver.execute_script("return document.getElementById('status').textContent")
                assert status.startswith("generated (seed "), status  # the note the page opens with
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

                sent = driver.execute_script("""const g = document.getElementById('guidance'); const out = {};
                    for (const v of ['', 'family', 'classic']) { g.value = v; out[v || 'bundle'] = window.specinpaint.sampling(); }
                    g.value = ''; return out""")
                assert "guidance_scale" not in sent["bundle"] and "guidance_drop" not in sent["bundle"]  # the bundle's own
                assert (sent["family"]["guidance_drop"], sent["family"]["guidance_scale"]) == ("family", 4)
                assert (sent["classic"]["guidance_drop"], sent["classic"]["guidance_scale"]) == ("both", 2)
                assert "pitch_guidance_scale" not in sent["bundle"]
                own = driver.execute_script("return document.getElementById('guidance').options[0].textContent")
                assert own == "bundle default (none)"  # the fake bundle samples without guidance
                strengths = driver.execute_script("""const g = document.getElementById('guidance');
                    const k = document.getElementById('guidance-scale'), p = document.getElementById('pitch-guidance');
                    g.value = 'family'; g.dispatchEvent(new Event('change'));
                    const shown = [k.placeholder, p.placeholder];
                    k.value = '2.5'; p.value = '3'; const out = window.specinpaint.sampling();
                    g.value = ''; k.value = ''; p.value = ''; g.dispatchEvent(new Event('change'));
                    return [shown, out, k.placeholder]""")
                assert strengths[0] == ["4", "off"] and strengths[2] == "1"
                assert (strengths[1]["guidance_drop"], strengths[1]["guidance_scale"],
                        strengths[1]["pitch_guidance_scale"]) == ("family", 2.5, 3)

                driver.find_element(By.ID, "btn-undo").click()
                _wait(driver, "const s = window.specinpaint; return s.edits >= 3 && s.busy === 0")
                assert driver.execute_script("return window.specinpaint.codes") == before
                status = driver.find_element(By.ID, "status")
                assert "failed" not in status.text
            finally:
                driver.quit()


def _three_family_pipeline():
    """The fake pipeline with the labels of data restricted to three families (pitches 40..70)."""
    from specinpaint.data.labels import LabelEncoder, LabelEncoders

    pipe = make_pipeline()
    families = ["bass", "brass", "flute", "guitar", "keyboard", "mallet", "organ", "reed", "string", "synth_lead",
                "vocal"]
    encoders = {name: LabelEncoder(name, ["x"]) for name in ("velocity", "instrument_source", "instrument_str")}
    encoders["pitch"] = LabelEncoder("pitch", [40, 55, 70])
    encoders["instrument_family"] = LabelEncoder("instrument_family", families, ["bass", "guitar", "keyboard"])
    pipe.extras["labels"] = LabelEncoders(encoders).to_json()
    return pipe


def _click_cell(driver, level: str, row: int, column: int, rows: int, columns: int, drag_to: int | None = None):
    """Click (or drag along the row to ``drag_to``) the centre of codemap cell (row from the bottom, column)."""
    from selenium.webdriver.common.action_chains import ActionChains
    from selenium.webdriver.common.by import By

    canvas = driver.find_element(By.ID, f"codemap-{level}")
    width, height = canvas.size["width"], canvas.size["height"]

    def offset(r: int, c: int) -> tuple[int, int]:  # from the canvas centre
        return (int((c + 0.5) * width / columns - width / 2), int((rows - 1 - r + 0.5) * height / rows - height / 2))

    chain = ActionChains(driver).move_to_element_with_offset(canvas, *offset(row, column)).click_and_hold()
    if drag_to is not None:
        x0, _ = offset(row, column)
        x1, _ = offset(row, drag_to)
        chain = chain.move_by_offset(x1 - x0, 0)
    chain.release().perform()


def test_labels_axes_grid_cell_painting_and_noise():
    from selenium.webdriver.common.by import By

    with edit_plugins():
        app = create_app(_three_family_pipeline(), ServerSettings(rate_limit_per_minute=0))
        with BackgroundServer(app) as url:
            driver = _driver()
            try:
                driver.get(url + "/")
                _wait(driver, "const s = window.specinpaint; return s && s.edits >= 1 && s.busy === 0")
                # the family select and pitch range come from the bundle's labels (via /api/info)
                options = driver.execute_script("return [...document.getElementById('family').options].map(o => o.value)")
                assert options == ["", "bass", "guitar", "keyboard"]
                pitch = driver.find_element(By.ID, "pitch")
                assert (pitch.get_attribute("min"), pitch.get_attribute("max"), pitch.get_attribute("value")) == (
                    "40", "70", "60")

                # axes: seconds along x up to the note's 0.128 s, Hz up to the top row's 4000 Hz
                ticks = driver.execute_script("""const read = (id, side) => [...document.getElementById(id).children]
                    .map(t => [t.textContent, parseFloat(t.style[side])]);
                    return [read('axis-x', 'left'), read('axis-y', 'top')]""")
                x_ticks, y_ticks = ticks
                assert [label for label, _ in x_ticks] == ["0.00", "0.05", "0.10", "0.128 s"]
                assert x_ticks[-1][1] == 100 and 0 < x_ticks[0][1] < 2  # 0 s is the first frame's centre
                assert x_ticks[1][1] == pytest.approx(100 * (0.05 + 0.001) / 0.128, abs=0.5)
                assert y_ticks[-1][0] == "4000 Hz" and y_ticks[-1][1] == pytest.approx(100 / 64, abs=0.01)
                assert y_ticks[0] == ["0", pytest.approx(100 - 100 / 64, abs=0.01)]

                # the codemap grid of the chosen level over the spectrogram
                grid = "const g = window.specinpaint.grid; return [g.level, g.xs, g.ys]"
                level, xs, ys = driver.execute_script(grid)
                assert level == "top" and xs == [0.25, 0.5, 0.75] and ys == [0.75, 0.5, 0.25]

                # click one top cell: exactly that cell is the region sent with the edit
                driver.execute_script("""window.sent = []; const inner = window.fetch;
                    window.fetch = (path, options) => { if (options && options.body && typeof options.body === 'string')
                      window.sent.push([path, JSON.parse(options.body)]); return inner(path, options); };""")
                before = driver.execute_script("return window.specinpaint.codes")
                _click_cell(driver, "top", row=1, column=2, rows=4, columns=4)
                one = [[0] * 4 for _ in range(4)]
                one[1][2] = 1
                assert _wait(driver, "return window.specinpaint.region") == {"masks": {"top": one}}
                preview = _wait(driver, "return window.specinpaint.preview")
                assert preview["top"] == one and sum(map(sum, preview["bottom"])) == 4  # the 2×2 bottom cells below
                assert "1 top cell painted" in driver.find_element(By.ID, "region-text").text
                driver.find_element(By.ID, "btn-resample").click()
                _wait(driver, "const s = window.specinpaint; return s.edits >= 2 && s.busy === 0")
                sent = driver.execute_script("return window.sent.filter(([p]) => p === '/api/inpaint').map(([, b]) => b)")
                assert len(sent) == 1 and sent[0]["region"] == {"masks": {"top": one}} and sent[0]["level"] == "top"
                masks = driver.execute_script("return window.specinpaint.lastMasks")
                assert masks["top"] == one
                after = driver.execute_script("return window.specinpaint.codes")
                assert all(after["top"][r][c] == before["top"][r][c] for r in range(4) for c in range(4) if not one[r][c])

                # drag along a bottom row: those three cells, the level follows, the grid becomes the bottom one
                _click_cell(driver, "bottom", row=6, column=1, rows=8, columns=8, drag_to=3)
                region = _wait(driver, "const r = window.specinpaint.region; return r && r.masks.bottom ? r : null")
                painted = [(r, c) for r, row in enumerate(region["masks"]["bottom"]) for c, v in enumerate(row) if v]
                assert painted == [(6, 1), (6, 2), (6, 3)]
                assert driver.find_element(By.ID, "level").get_attribute("value") == "bottom"
                level, xs, ys = driver.execute_script(grid)
                assert level == "bottom" and len(xs) == 7 and len(ys) == 7 and xs[0] == 0.125

                # the noise brush on those cells: codes change inside, never outside
                before = driver.execute_script("return window.specinpaint.codes")
                driver.find_element(By.ID, "btn-noise").click()
                _wait(driver, "const s = window.specinpaint; return s.edits >= 3 && s.busy === 0")
                after, masks = driver.execute_script("const s = window.specinpaint; return [s.codes, s.lastMasks]")
                assert [(r, c) for r, row in enumerate(masks["bottom"]) for c, v in enumerate(row) if v] == painted
                assert after["top"] == before["top"]
                changed = [(r, c) for r in range(8) for c in range(8) if after["bottom"][r][c] != before["bottom"][r][c]]
                assert changed and set(changed) <= set(painted)

                driver.find_element(By.ID, "btn-clear").click()
                assert driver.execute_script("return window.specinpaint.region") is None
                assert driver.find_element(By.ID, "btn-resample").get_attribute("disabled") == "true"
                assert "failed" not in driver.find_element(By.ID, "status").text
            finally:
                driver.quit()
