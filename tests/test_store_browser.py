"""The stored calls on the page of ``escucha serve --data DIR``, in Debian's chromium driven by
Playwright: the list and its filters, a call opened on the timeline (speakers, transcript), the
CSV export, deleting a call, and several files queued at once.

Skipped with a reason without chromium or playwright.
"""

from __future__ import annotations

import csv
import io
import socket
import threading
import time

import numpy as np
import pytest
import soundfile as sf

pytest.importorskip("fastapi", reason="the serve extra is not installed (pip install -e '.[serve]')")
pytest.importorskip("sqlalchemy", reason="the store extra is not installed (pip install 'escucha[store]')")
uvicorn = pytest.importorskip("uvicorn", reason="the serve extra is not installed")

from .test_service_browser import CHROMIUM, CHROMIUM_ARGS, shot, wait_until  # noqa: E402
from .test_store import fake_result  # noqa: E402
from .test_store_service import make_long_call  # noqa: E402


@pytest.fixture(scope="module")
def stored(tmp_path_factory):
    """A service keeping calls in a data folder, three calls stored in it; ``(url, store)``."""
    import escucha
    from escucha.service import ServiceConfig, create_app
    from escucha.store import open_store

    data = tmp_path_factory.mktemp("store-page")
    store = open_store(data=data)
    store.save_call(fake_result("worse-call.wav", neg_first=0.1, neg_last=0.8, dominant="angry", words=True))
    store.save_call(fake_result("better-call.wav", neg_first=0.7, neg_last=0.1, dominant="neutral"))
    store.save_call(fake_result("quiet-call.wav", neg_first=0.0, neg_last=0.0, dominant="neutral", channels=("mono",)))
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    app = create_app(escucha.load_model(), ServiceConfig(workers=1, data=str(data), sync_seconds=5), store=store)
    srv = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    t = threading.Thread(target=srv.run, daemon=True)
    t.start()
    for _ in range(200):
        if srv.started:
            break
        time.sleep(0.05)
    assert srv.started
    yield f"http://127.0.0.1:{port}", store
    srv.should_exit = True
    t.join(timeout=10)
    store.close()


@pytest.fixture
def page(stored):
    if CHROMIUM is None:
        pytest.skip("Chromium is not installed (run `make browser`, which installs Debian's chromium)")
    sync_api = pytest.importorskip("playwright.sync_api", reason="playwright is not installed (pip install -e '.[test]')")
    with sync_api.sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        ctx = b.new_context(viewport={"width": 1200, "height": 1000}, accept_downloads=True)
        pg = ctx.new_page()
        pg.console_errors = []
        pg.on("console", lambda m: pg.console_errors.append(m.text) if m.type == "error" else None)
        pg.on("pageerror", lambda e: pg.console_errors.append(str(e)))
        pg.goto(stored[0] + "/", wait_until="load")
        yield pg
        ctx.close()
        b.close()


def rows(page) -> list[str]:
    return page.eval_on_selector_all("#calls-table tbody tr td:first-child", "els => els.map(e => e.textContent)")


def test_list_filter_open_export_delete_and_queue_several(page, stored, tmp_path):
    url, store = stored
    page.wait_for_selector("#calls:not([hidden])")
    wait_until(page, "document.querySelectorAll('#calls-table tbody tr').length === 3")
    assert set(rows(page)) == {"worse-call.wav", "better-call.wav", "quiet-call.wav"}
    # filters: ended worse; a speaker's role; a part of the name; most negative first
    page.select_option("#f-change", "worse")
    wait_until(page, "document.querySelectorAll('#calls-table tbody tr').length === 1")
    assert rows(page) == ["worse-call.wav"]
    page.select_option("#f-change", "")
    page.fill("#f-speaker", "mono")
    page.click("#calls-apply")
    wait_until(page, "document.querySelectorAll('#calls-table tbody tr').length === 1")
    assert rows(page) == ["quiet-call.wav"]
    # filtered by a role, the negative columns are that speaker's (the agent stayed at 10 %), not the call's
    cells = ("Array.from(document.querySelectorAll('#calls-table tbody tr')).filter(r => r.textContent"
             ".startsWith('worse-call.wav')).map(r => Array.from(r.cells).slice(4, 6).map(c => c.textContent).join())")
    page.fill("#f-speaker", "agent")
    page.click("#calls-apply")
    wait_until(page, "document.querySelectorAll('#calls-table tbody tr').length === 2")
    assert page.evaluate(f"{cells}.join()") == "10\xa0%,0 pts"          # a no-break space: '10 %' never breaks
    assert page.text_content("#th-negative") == "negative (agent)"
    assert "customer: angry (45\xa0% negative)" in page.evaluate(f"{cells.split('.map(r =>')[0]}[0].textContent")
    # the server matches the speaker in any case; so do the columns (they showed the call's figures)
    page.fill("#f-speaker", "Agent")
    page.click("#calls-apply")
    wait_until(page, "document.getElementById('th-negative').textContent === 'negative (Agent)'")
    assert page.evaluate(f"{cells}.join()") == "10\xa0%,0 pts"
    page.fill("#f-speaker", "")
    page.click("#calls-apply")
    wait_until(page, "document.querySelectorAll('#calls-table tbody tr').length === 3")
    assert page.evaluate(f"{cells}.join()") == "45\xa0%,+70 pts"      # the whole call's
    assert page.text_content("#th-negative") == "negative"
    page.fill("#f-file", "CALL")
    page.select_option("#f-sort", "-negative")
    order = "Array.from(document.querySelectorAll('#calls-table tbody tr td:first-child')).map(e => e.textContent)"
    wait_until(page, f"{order}.join() === 'worse-call.wav,better-call.wav,quiet-call.wav'")  # most negative first
    # open a call: the timeline with a lane per speaker, their summaries, the transcript
    page.click("#calls-table button[data-id] >> text=worse-call.wav")
    page.wait_for_selector("#call-result:not([hidden])")
    # drawn below the list, the call is brought into view (its heading at the top of the window)
    wait_until(page, "Math.abs(document.getElementById('call-result').getBoundingClientRect().top) < 2")
    assert page.eval_on_selector_all("#track-names div", "els => els.map(e => e.textContent)") == ["agent", "customer"]
    assert len(page.query_selector_all("#lane-rows .seg")) == 4
    assert len(page.query_selector_all("#summary .block")) == 3
    assert page.is_visible("#transcript") and "hola" in page.text_content("#transcript-lines")
    shot(page, tmp_path, "service-stored-call.png", full_page=True)
    # export the list
    with page.expect_download() as dl:
        page.click("#export-csv")
    text = open(dl.value.path(), encoding="utf-8").read()
    got = list(csv.DictReader(io.StringIO(text)))
    assert sorted(r["file"] for r in got) == ["better-call.wav", "quiet-call.wav", "worse-call.wav"]
    assert "negative_change" in got[0]
    # delete the open call (after confirming)
    page.on("dialog", lambda d: d.accept())
    page.click("#call-delete")
    wait_until(page, "document.querySelectorAll('#calls-table tbody tr').length === 2")
    assert "worse-call.wav" not in rows(page) and page.is_hidden("#call-result")
    assert store.list_calls()[1] == 2
    # several files at once: queued, analysed, listed
    a = make_long_call(tmp_path / "first.wav", 5)
    b = make_long_call(tmp_path / "second.wav", 6, seed=1)
    page.fill("#f-file", "")
    page.set_input_files("#file", [str(a), str(b)])
    wait_until(page, "document.querySelectorAll('#queue li.done').length === 2", timeout=120)
    wait_until(page, "document.querySelectorAll('#calls-table tbody tr').length === 4")
    assert {"first.wav", "second.wav"} <= set(rows(page))
    assert page.console_errors == []
    shot(page, tmp_path, "service-calls.png", full_page=True)


def test_a_long_stored_call_zooms_and_the_view_follows_the_cursor(page, stored, tmp_path):
    url, store = stored
    # a short recording in the player first: the stored call (no audio) must not be driven by it
    # (End stopped at 0:01.0, the recording's end, and Space played it behind the stored call)

    clip = tmp_path / "one-second.wav"
    sf.write(clip, (0.1 * np.sin(np.arange(16000) / 5)).astype(np.float32), 16000)
    page.set_input_files("#file", str(clip))
    page.wait_for_selector("#clip-result:not([hidden]), #error:not([hidden])", timeout=60_000)
    d = fake_result("long-call.wav", segments=60)
    for i, g in enumerate(d["segments"]):                                # 60 turns over ten minutes
        g["start"], g["end"] = 10.0 * i, 10.0 * i + 6.0
    d["duration"] = d["summary"]["duration"] = 600.0
    store.save_call(d)
    page.fill("#f-file", "long-call")
    page.click("#calls-apply")
    wait_until(page, "document.querySelectorAll('#calls-table tbody tr').length === 1")
    page.click("#calls-table button[data-id]")
    page.wait_for_selector("#call-result:not([hidden])")
    assert page.is_visible("#zoom-row") and page.get_attribute("#zoom", "max") == "60"
    ratio = "document.getElementById('lanes').offsetWidth / document.getElementById('lanes-scroll').clientWidth"
    assert abs(page.evaluate(ratio) - 1) < 0.02
    # the axis ticks fall at round times (they fell at fifths of the duration: 0:11.6, 0:23.2 ...)
    ticks = page.eval_on_selector_all("#axis span", "els => els.map(e => e.textContent)")
    assert ticks == ["0:00.0", "2:30.0", "5:00.0", "7:30.0", "10:00.0"]
    inside = ("(() => { const a = document.getElementById('axis').getBoundingClientRect(); return Array.from("
              "document.querySelectorAll('#axis span')).every(s => { const r = s.getBoundingClientRect(); "
              "return r.left >= a.left - 1 && r.right <= a.right + 1; }); })()")
    assert page.evaluate(inside)                                       # none hangs over the ends
    page.eval_on_selector("#zoom", "z => { z.value = '10'; z.dispatchEvent(new Event('input')); }")
    assert abs(page.evaluate(ratio) - 10) < 0.2
    assert len(page.query_selector_all("#axis span")) == 41
    assert page.text_content("#axis span:nth-child(2)") == "0:15.0"
    page.focus("#lanes")
    page.keyboard.press("End")
    assert page.text_content("#now").startswith("10:00.0")
    page.keyboard.press("Home")
    assert page.evaluate("document.getElementById('player').paused") and page.is_hidden("#player-box")
    # move to the middle: the cursor is where it should be, and scrolled into view
    for _ in range(30):
        page.keyboard.press("PageUp")                                    # +10 s each
    assert page.text_content("#now").startswith("5:00.0")
    box = page.evaluate("(() => { const b = document.getElementById('lanes-scroll'); "
                        "return [b.scrollLeft, b.clientWidth, document.getElementById('cursor').offsetLeft]; })()")
    assert box[0] > 0 and box[0] <= box[2] <= box[0] + box[1]
    # a click on the zoomed lanes seeks to the time under it
    lanes = page.query_selector("#lanes").bounding_box()
    scroller = page.query_selector("#lanes-scroll").bounding_box()
    x = scroller["x"] + scroller["width"] / 2
    want = (x - lanes["x"]) / lanes["width"] * 600
    page.mouse.click(x, lanes["y"] + 10)
    m, s = page.text_content("#now").split(" ")[0].split(":")
    assert abs(60 * int(m) + float(s) - want) < 1.0
    assert page.console_errors == []
    shot(page, tmp_path, "service-zoom.png", full_page=True)


def test_an_upload_s_buttons_act_on_it_and_what_it_says_is_in_view(page, stored, tmp_path):
    """Found by a supervisor's walkthrough: the call buttons stayed on the call opened before (its
    CSV, its deletion) under a new upload, or showed on a fresh page and did nothing ([hidden] lost
    to .actions' display); the result and errors appeared below the stored-calls list, off screen."""
    url, store = stored
    page.set_viewport_size({"width": 1200, "height": 700})
    page.evaluate("document.getElementById('options').open = true")
    page.select_option("#mode", "call")
    call = make_long_call(tmp_path / "upload-call.wav", 4)
    page.set_input_files("#file", str(call))
    page.wait_for_selector("#call-result:not([hidden])", timeout=120_000)
    assert page.is_visible("#call-actions") and page.text_content("#call-stored") == "stored"
    with page.expect_download() as dl:
        page.click("#call-csv")
    assert dl.value.suggested_filename == "upload-call.wav.segments.csv"
    # the result is where the user acted: above the list, in view
    top = page.evaluate("document.getElementById('call-result').getBoundingClientRect().top")
    assert top < page.evaluate("document.getElementById('calls').getBoundingClientRect().top") and top < 700
    # a clip next: no call buttons (they would act on the call before)
    page.select_option("#mode", "clip")
    clip = tmp_path / "tone.wav"
    sf.write(clip, (0.1 * np.sin(np.arange(16000) / 5)).astype(np.float32), 16000)
    page.set_input_files("#file", str(clip))
    page.wait_for_selector("#clip-result:not([hidden]), #error:not([hidden])", timeout=60_000)
    assert page.is_hidden("#call-actions")
    # an error is said in view, and a refused file is not left in the player
    empty = tmp_path / "broken.wav"
    empty.write_bytes(b"RIFF....WAVEfmt nonsense" * 4)
    page.evaluate("window.scrollTo(0, document.body.scrollHeight)")
    page.set_input_files("#file", str(empty))
    page.wait_for_selector("#error:not([hidden])", timeout=60_000)
    box = page.evaluate("(() => { const r = document.getElementById('error').getBoundingClientRect(); "
                        "return [r.top, r.bottom, window.innerHeight]; })()")
    assert -1 <= box[0] and box[1] <= box[2] + 1, box
    assert page.is_hidden("#player-box")
    page.select_option("#mode", "auto")
    assert page.console_errors == [] or all("422" in e or "Failed to load" in e for e in page.console_errors)
