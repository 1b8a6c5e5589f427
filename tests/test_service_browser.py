"""The web page of ``escucha serve`` in a real browser: Playwright driving Debian's chromium
against the service running on a free 127.0.0.1 port (in a thread of this process).

Skipped with a reason without chromium, playwright or the real RAVDESS clips. Screenshots go
to the test's temporary folder; with ``ESCUCHA_UPDATE_SCREENSHOTS=1`` also to docs/img/
(the ones the README and docs/service.md show).
"""

from __future__ import annotations

import os
import re
import shutil
import socket
import threading
import time
from pathlib import Path

import pytest
import soundfile as sf

pytest.importorskip("fastapi", reason="the serve extra is not installed (pip install -e '.[serve]')")
uvicorn = pytest.importorskip("uvicorn", reason="the serve extra is not installed")

from escucha.labels import EMOTION_COLORS, EMOTIONS  # noqa: E402

from .conftest import REPO, SHARED_RAVDESS  # noqa: E402
from .test_service import CALL_CLIPS, HAVE_REAL, make_call  # noqa: E402

CHROMIUM = shutil.which("chromium") or ("/usr/bin/chromium" if Path("/usr/bin/chromium").exists() else None)
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--no-first-run", "--disable-sync",
                 "--autoplay-policy=no-user-gesture-required",
                 "--use-fake-ui-for-media-stream", "--use-fake-device-for-media-stream"]
SHOTS = REPO / "docs" / "img"

pytestmark = pytest.mark.skipif(not HAVE_REAL, reason=f"real RAVDESS clips not found under {SHARED_RAVDESS}")


def _rgb(hex_colour: str) -> str:
    h = hex_colour.lstrip("#")
    return "rgb({}, {}, {})".format(*(int(h[i:i + 2], 16) for i in (0, 2, 4)))


def wait_until(page, expression: str, timeout: float = 10.0):
    """Poll ``expression`` in the page until it is truthy (``wait_for_function`` evaluates a
    string inside the page, which the page's Content-Security-Policy rightly refuses)."""
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if page.evaluate(expression):
            return
        time.sleep(0.05)
    raise AssertionError(f"not true within {timeout} s: {expression}")


def shot(page, tmp_path: Path, name: str, **kw) -> Path:
    path = tmp_path / name
    page.screenshot(path=str(path), **kw)
    assert path.stat().st_size > 10_000
    if os.environ.get("ESCUCHA_UPDATE_SCREENSHOTS"):
        SHOTS.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(path, SHOTS / name)
    return path


@pytest.fixture(scope="module")
def model():
    import escucha

    return escucha.load_model()


@pytest.fixture(scope="module")
def server(model):
    """The service on a free localhost port, served by uvicorn in a thread; its base URL."""
    from escucha.service import ServiceConfig, create_app

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    srv = uvicorn.Server(uvicorn.Config(create_app(model, ServiceConfig(workers=2)), host="127.0.0.1", port=port,
                                        log_level="warning"))
    t = threading.Thread(target=srv.run, daemon=True)
    t.start()
    for _ in range(200):
        if srv.started:
            break
        time.sleep(0.05)
    assert srv.started
    yield f"http://127.0.0.1:{port}"
    srv.should_exit = True
    t.join(timeout=10)


@pytest.fixture(scope="module")
def files(tmp_path_factory) -> dict[str, Path]:
    d = tmp_path_factory.mktemp("browser-audio")
    clip = SHARED_RAVDESS / CALL_CLIPS[0]
    y, sr = sf.read(clip, dtype="float32")
    mic = d / "microphone.wav"          # chromium's fake capture device plays a 16-bit WAV
    sf.write(mic, y, sr, subtype="PCM_16")
    bad = d / "notes.wav"
    bad.write_bytes(b"this is not audio\n" * 50)
    return {"clip": clip, "call": make_call(d / "call.wav"), "stereo": make_call(d / "stereo-call.wav", stereo=True),
            "mic": mic, "bad": bad}


@pytest.fixture(scope="module")
def browser(files):
    if CHROMIUM is None:
        pytest.skip("Chromium is not installed (run `make browser`, which installs Debian's chromium)")
    sync_api = pytest.importorskip("playwright.sync_api", reason="playwright is not installed (pip install -e '.[test]')")
    with sync_api.sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM,
                              args=CHROMIUM_ARGS + [f"--use-file-for-fake-audio-capture={files['mic']}"])
        yield b
        b.close()


@pytest.fixture
def page(browser, server):
    ctx = browser.new_context(viewport={"width": 1100, "height": 900})
    pg = ctx.new_page()
    pg.console_errors = []
    pg.on("console", lambda m: pg.console_errors.append(m.text) if m.type == "error" else None)
    pg.on("pageerror", lambda e: pg.console_errors.append(str(e)))
    pg.goto(server + "/", wait_until="load")
    yield pg
    ctx.close()


def test_page_loads_with_no_console_errors_and_works_by_keyboard(page, tmp_path):
    assert page.title().startswith("escucha")
    assert page.is_visible("#drop") and page.is_visible("#record")
    page.keyboard.press("Tab")                       # the drop zone is the first stop ...
    assert page.evaluate("document.activeElement.id") == "drop"
    page.evaluate("document.getElementById('file').addEventListener('click', () => { window.picked = true; })")
    page.keyboard.press("Enter")                     # ... and Enter opens the file chooser
    assert page.evaluate("window.picked === true")
    page.keyboard.press("Tab")
    assert page.evaluate("document.activeElement.id") == "choose"
    assert page.console_errors == []


def test_uploaded_clip_shows_its_label_and_eight_bars_in_the_emotion_colours(page, model, files, tmp_path):
    want = model.predict(files["clip"]).label
    page.set_input_files("#file", str(files["clip"]))
    page.wait_for_selector("#clip-result:not([hidden])", timeout=60_000)
    assert page.text_content("#clip-label") == want
    bars = page.query_selector_all("#bars li")
    assert len(bars) == 8
    labels = [b.get_attribute("data-label") for b in bars]
    assert sorted(labels) == sorted(EMOTIONS) and labels[0] == want   # the top one first
    fills = page.eval_on_selector_all("#bars .fill", "els => els.map(e => getComputedStyle(e).backgroundColor)")
    assert fills == [_rgb(EMOTION_COLORS[lab]) for lab in labels]
    shares = page.eval_on_selector_all("#bars .fill", "els => els.map(e => e.offsetWidth / e.parentNode.offsetWidth)")
    probs = model.predict(files["clip"]).probabilities
    assert shares == pytest.approx([probs[lab] for lab in labels], abs=0.01)   # bars as long as the probabilities
    assert page.is_visible("#player")
    assert page.console_errors == []
    shot(page, tmp_path, "service-clip.png", full_page=True)


def test_a_call_shows_the_timeline_and_the_player_moves_its_cursor(page, model, files, tmp_path):
    from escucha.longaudio import analyze_file

    want = analyze_file(files["call"], model).to_dict(windows=False)
    page.set_input_files("#file", str(files["call"]))
    page.wait_for_selector("#call-result:not([hidden])", timeout=60_000)
    # in time order (the boxes sit in their speaker's lane)
    segs = sorted(page.query_selector_all("#lane-rows .seg"), key=lambda s: int(s.get_attribute("data-index")))
    assert [s.get_attribute("data-label") for s in segs] == [g["label"] for g in want["segments"]]
    assert page.text_content("#call-label") == want["summary"]["dominant"]
    n = len(want["channels"])   # a mono call of several actors: a lane and a summary per speaker found
    assert len(page.query_selector_all("#summary .block")) == (1 if n == 1 else n + 1)
    assert page.eval_on_selector_all("#track-names div", "els => els.map(e => e.textContent)") == want["channels"]
    assert page.is_hidden("#transcript")         # no words asked for
    # each speaker against their own neutral voice only when asked for (below)
    assert "baseline" not in want and "own neutral voice" not in page.text_content("#call-meta")
    # keyboard on the timeline moves the player; the player moves the cursor
    page.focus("#lanes")
    page.keyboard.press("End")
    page.keyboard.press("Home")
    for _ in range(3):
        page.keyboard.press("ArrowRight")
    assert abs(page.evaluate("document.getElementById('player').currentTime") - 3.0) < 0.05
    assert page.text_content("#now").startswith("0:03.0")
    left = page.evaluate("parseFloat(document.getElementById('cursor').style.left)")
    assert abs(left - 100 * 3.0 / want["duration"]) < 0.5
    page.evaluate("document.getElementById('player').play()")
    wait_until(page, f"parseFloat(document.getElementById('cursor').style.left) > {left + 1}")
    page.evaluate("document.getElementById('player').pause()")
    # seek into the first segment: it is marked, and named under the timeline
    first = want["segments"][0]
    page.evaluate(f"document.getElementById('player').currentTime = {(first['start'] + first['end']) / 2}")
    page.wait_for_selector("#lane-rows .seg.active")
    assert first["label"] in page.text_content("#now")
    assert page.console_errors == []
    shot(page, tmp_path, "service-call.png", full_page=True)


def test_a_stereo_call_split_by_speaker_on_a_phone_sized_screen(browser, server, model, files, tmp_path):
    ctx = browser.new_context(viewport={"width": 390, "height": 844}, device_scale_factor=2, is_mobile=True,
                              has_touch=True)
    page = ctx.new_page()
    errors = []
    page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    page.goto(server + "/", wait_until="load")
    page.click("#options summary")
    page.check("#split")
    page.fill("#names", "agent,customer")
    page.set_input_files("#file", str(files["stereo"]))
    page.wait_for_selector("#call-result:not([hidden])", timeout=60_000)
    assert page.eval_on_selector_all("#track-names div", "els => els.map(e => e.textContent)") == ["agent", "customer"]
    assert page.eval_on_selector_all("#summary .block", "els => els.map(e => e.dataset.channel)") == \
        ["agent", "customer", "all speakers"]
    assert page.evaluate("document.documentElement.scrollWidth") <= 390   # nothing wider than the phone
    assert errors == []
    page.evaluate("document.getElementById('call-result').scrollIntoView()")
    shot(page, tmp_path, "service-phone.png")
    ctx.close()


def test_microphone_recording_gets_a_result(page, tmp_path):
    page.click("#record")
    wait_until(page, "document.getElementById('record').getAttribute('aria-pressed') === 'true'")
    page.wait_for_timeout(3500)
    page.click("#record")
    page.wait_for_selector("#clip-result:not([hidden])", timeout=60_000)
    # each recording its own name (all were 'recording.wav', one name for every stored recording)
    assert re.fullmatch(r"recording-\d{4}-\d\d-\d\dT\d\d-\d\d-\d\d\.wav", page.text_content("#player-name"))
    label = page.query_selector("#clip-label")
    assert label is not None and label.text_content() in EMOTIONS     # the fake device plays a real clip
    duration = page.evaluate("document.getElementById('player').duration")
    assert 2.5 < duration < 6
    assert page.console_errors == []
    shot(page, tmp_path, "service-microphone.png")


def test_a_server_error_is_shown_as_its_one_line_message(page, files):
    page.set_input_files("#file", str(files["bad"]))
    page.wait_for_selector("#error:not([hidden])", timeout=30_000)
    assert page.text_content("#error").startswith("notes.wav: cannot decode audio")
    assert page.is_hidden("#clip-result")
    # the browser logs the 422 response itself; nothing else went wrong
    assert all("status of 422" in e for e in page.console_errors)


def test_a_mono_call_with_words_shows_a_lane_per_speaker_and_a_searchable_transcript(page, model, files):
    """The page as it answers a mono call analysed with speakers and words (the server's answer
    is the JSON of analyze --transcribe; here the request asks for words and gets a made-up one)."""
    import json

    from escucha.longaudio import analyze_file

    want = analyze_file(files["call"], model).to_dict(windows=False)
    words = ["we are sorry to hear that", "this is terrible service", "let me fix it now"]
    for k, g in enumerate(want["segments"]):
        g["text"] = words[k % 3]
        g["words"] = [{"word": w, "start": g["start"], "end": g["end"], "probability": 0.9} for w in g["text"].split()]
        g["text_sentiment"] = {"compound": -0.5 if k % 3 == 1 else 0.1, "label": "negative" if k % 3 == 1 else "positive"}
    asked = []

    def answer(route):
        asked.append(route.request.url)
        route.fulfill(status=200, content_type="application/json", body=json.dumps(want))

    page.route("**/v1/analyze*", answer)
    page.click("#options summary")
    page.select_option("#mode", "call")
    page.check("#transcribe")
    page.check("#baseline")
    page.set_input_files("#file", str(files["call"]))
    page.wait_for_selector("#call-result:not([hidden])", timeout=60_000)
    assert "transcribe=true" in asked[0] and "channels=auto" in asked[0] and "baseline=true" in asked[0]
    assert page.eval_on_selector_all("#track-names div", "els => els.map(e => e.textContent)") == want["channels"]
    items = page.query_selector_all("#transcript-lines li")
    assert len(items) == len(want["segments"]) and "terrible service" in items[1].text_content()
    assert "text: negative" in items[1].text_content()
    page.fill("#transcript-search", "terrible")
    visible = [li for li in page.query_selector_all("#transcript-lines li") if li.is_visible()]
    assert visible and all("terrible" in li.text_content() for li in visible)
    assert page.console_errors == []
