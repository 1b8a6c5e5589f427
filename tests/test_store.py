"""The store (escucha.store) against real databases, SQLite and PostgreSQL: migrations, a call
stored and read back exactly, the list's filters and sorting, deleting, pruning, and jobs that
are claimed once, leased, re-run after a killed worker and failed after too many tries."""

from __future__ import annotations

import copy
import json
import threading
import time
from datetime import date, datetime, timedelta, timezone

import pytest

pytest.importorskip("sqlalchemy", reason="the store extra is not installed (pip install 'escucha[store]')")
pytest.importorskip("alembic", reason="the store extra is not installed (pip install 'escucha[store]')")

from escucha.errors import ConfigError  # noqa: E402
from escucha.store import MAX_ATTEMPTS, CallQuery, open_store  # noqa: E402
from escucha.store.db import current_revision, head_revision, make_engine, resolve_url, upgrade  # noqa: E402

from .store_fixtures import db_url, postgres_server, postgres_url  # noqa: E402,F401

LABELS = ["neutral", "happy", "sad", "angry"]


def fake_result(name: str, *, neg_first: float = 0.1, neg_last: float = 0.5, dominant: str = "sad",
                channels=("agent", "customer"), segments: int = 4, words: bool = False) -> dict:
    """A result JSON shaped as ``CallResult.to_dict()`` gives it (two speakers)."""
    def block(nf, nl):
        share = {lab: 0.25 for lab in LABELS}
        return {"speech_seconds": 8.0, "speech_ratio": 0.4, "segments": segments // len(channels),
                "emotion_share": share, "dominant": dominant,
                "first_third": {"speech_seconds": 3.0, "emotion_share": share, "dominant": "neutral"},
                "last_third": {"speech_seconds": 3.0, "emotion_share": share, "dominant": dominant},
                "change": {lab: 0.0 for lab in LABELS},
                "high_arousal": {"share": 0.2, "first_third": 0.1, "last_third": 0.3, "change": 0.2},
                "negative": {"share": round((nf + nl) / 2, 4), "first_third": nf, "last_third": nl,
                             "change": round(nl - nf, 4)}}

    segs = []
    for i in range(segments):
        p = {"neutral": 0.1, "happy": 0.2, "sad": 0.6, "angry": 0.1}
        seg = {"channel": channels[i % len(channels)], "start": 2.0 * i, "end": 2.0 * i + 1.5, "label": "sad",
               "confidence": 0.6, "probabilities": p, "arousal": 0.1, "negative": 0.7}
        if words:
            seg["words"] = [{"word": "hola", "start": 2.0 * i, "end": 2.0 * i + 0.4}]
        segs.append(seg)
    summary = {"duration": 20.0, **block(neg_first, neg_last)}
    summary["channels"] = {ch: block(neg_first, neg_last if ch == "customer" else neg_first) for ch in channels}
    return {"file": name, "duration": 20.0, "sample_rate": 16000, "format": "WAV", "source": {"size": 1, "frames": 2},
            "channels": list(channels), "channel_mode": "split", "labels": LABELS,
            "settings": {"window": 3.0, "hop": 1.5, "smooth": 3.0, "channels": "split", "vad": {"threshold": 0.5},
                         "model": {"id": "abc", "name": "m", "sample_rate": 16000, "clip_seconds": 3.0},
                         "escucha_version": "0.1.0", "channel_names": list(channels)},
            "segments": segs,
            "windows": [{"channel": "agent", "segment": 0, "start": 0.0, "end": 1.5, "label": "sad",
                         "probabilities": {"neutral": 0.1, "happy": 0.2, "sad": 0.6, "angry": 0.1}}],
            "summary": summary}


def test_migrations_from_empty_and_from_the_first_revision(db_url):
    engine = make_engine(resolve_url(db_url))
    assert current_revision(engine) is None
    assert upgrade(engine, "0001") == (None, "0001")
    from escucha.store import Store

    kept = Store(engine).save_call(fake_result("before.wav"))          # a call stored under the first schema
    assert upgrade(engine) == ("0001", head_revision())
    assert Store(engine).get_call(kept)["file"] == "before.wav"        # ... is there after the upgrade
    assert upgrade(engine) == (head_revision(), head_revision())  # again: nothing to do
    from sqlalchemy import inspect

    idx = {i["name"] for i in inspect(engine).get_indexes("calls")}
    assert {"ix_calls_negative_share", "ix_calls_negative_change", "ix_calls_dominant"} <= idx
    engine.dispose()
    store = open_store(db_url, migrate=False)  # at head: accepted
    assert store.count_calls() == 1
    store.close()


def test_open_store_refuses_an_old_schema_without_migrating(tmp_path):
    url = f"sqlite:///{tmp_path / 'old.db'}"
    engine = make_engine(url)
    upgrade(engine, "0001")
    engine.dispose()
    with pytest.raises(ConfigError, match="revision 0001.*escucha db upgrade"):
        open_store(url, migrate=False)


def test_a_database_from_a_newer_escucha_is_refused_in_one_line(tmp_path):
    from sqlalchemy import text

    open_store(data=tmp_path).close()
    engine = make_engine(resolve_url(data=tmp_path))
    with engine.begin() as c:
        c.execute(text("UPDATE alembic_version SET version_num = '0099'"))
    engine.dispose()
    with pytest.raises(ConfigError, match="revision identified by '0099'.*newer escucha"):
        open_store(data=tmp_path)


@pytest.mark.parametrize("db,data,message", [
    (None, None, "give a data folder with --data DIR or a database with --db URL"),
    ("mysql://x@y/z", None, "not a database URL this store speaks"),
    ("postgresql://u:secret@127.0.0.1:1/nope", None, "cannot"),
])
def test_bad_store_locations_are_one_line(db, data, message):
    with pytest.raises(ConfigError) as e:
        open_store(db, data=data)
    assert message in str(e.value) and "\n" not in str(e.value) and "secret" not in str(e.value)


def test_a_call_reads_back_exactly_and_deletes(db_url):
    store = open_store(db_url)
    d = fake_result("calls/a.wav", words=True)
    cid = store.save_call(copy.deepcopy(d), source="/data/calls/a.wav", digest="f00")
    got = store.get_call(cid)
    assert got.pop("id") == cid and got.pop("job") is None and got.pop("stored_at").endswith("Z")
    assert got == json.loads(json.dumps(d))
    assert got["segments"][0]["words"][0]["word"] == "hola"
    assert store.find_call(source="/data/calls/a.wav", digest="f00", settings=d["settings"]) == cid
    assert store.find_call(source="/data/calls/a.wav", digest="f01", settings=d["settings"]) is None
    other = {**d["settings"], "smooth": 0.0}
    assert store.find_call(source="/data/calls/a.wav", digest="f00", settings=other) is None
    assert store.delete_call(cid) is True
    assert store.get_call(cid) is None and store.delete_call(cid) is False
    from sqlalchemy import func, select

    from escucha.store.schema import SegmentRow, Speaker

    with store._session() as s:  # nothing of it is left behind
        assert s.scalar(select(func.count()).select_from(SegmentRow)) == 0
        assert s.scalar(select(func.count()).select_from(Speaker)) == 0
    store.close()


def test_list_filters_sorting_and_paging(db_url):
    store = open_store(db_url)
    ids = {}
    ids["worse"] = store.save_call(fake_result("worse.wav", neg_first=0.1, neg_last=0.7, dominant="angry"))
    ids["better"] = store.save_call(fake_result("better.wav", neg_first=0.6, neg_last=0.2, dominant="neutral"))
    ids["calm"] = store.save_call(fake_result("calm_100%.wav", neg_first=0.0, neg_last=0.0, dominant="neutral",
                                              channels=("mono",)))

    def names(**kw):
        items, total = store.list_calls(CallQuery(**kw))
        assert total == len(items) or kw.get("limit")
        return [c["file"] for c in items]

    assert set(names()) == {"worse.wav", "better.wav", "calm_100%.wav"}
    assert names(dominant="angry") == ["worse.wav"]
    assert names(min_change=0.1) == ["worse.wav"]                       # ended worse than it started
    assert names(max_change=-0.1) == ["better.wav"]
    assert sorted(names(min_negative=0.3)) == ["better.wav", "worse.wav"]
    assert names(file="100%") == ["calm_100%.wav"] and names(file="_") == ["calm_100%.wav"]  # literal % and _
    assert names(file="WORSE") == ["worse.wav"]
    # the customer ended worse; the agent (same first and last third) did not
    assert sorted(names(speaker="customer", min_change=0.1)) == ["worse.wav"]
    assert names(speaker="agent", min_change=0.1) == []
    assert names(speaker="mono") == ["calm_100%.wav"]
    assert names(sort="negative_change") == ["better.wav", "calm_100%.wav", "worse.wav"]
    assert names(sort="-negative_change") == ["worse.wav", "calm_100%.wav", "better.wav"]
    assert names(sort="file", limit=2) == ["better.wav", "calm_100%.wav"]
    assert names(sort="file", limit=2, offset=2) == ["worse.wav"]
    items, total = store.list_calls(CallQuery(sort="file", limit=1))
    assert total == 3 and items[0]["speakers"][1]["name"] == "customer"
    assert items[0]["negative"] == {"share": 0.4, "change": -0.4}
    assert [(sp["name"], sp["role"]) for sp in items[0]["speakers"]] == [("agent", "agent"), ("customer", "customer")]
    now = time.time()
    assert len(names(since=now - 60, until=now + 60)) == 3 and names(since=now + 60) == []
    rows = list(store.iter_calls(CallQuery(sort="file")))
    assert [r["file"] for r in rows] == ["better.wav", "calm_100%.wav", "worse.wav"]
    assert store.prune(3600) == {"calls": 0, "jobs": 0}
    assert store.prune(-1)["calls"] == 3 and store.count_calls() == 0
    store.close()


@pytest.mark.parametrize("kw,message", [({"sort": "colour"}, "sort 'colour' is unknown"),
                                        ({"limit": 0}, "limit must be between"), ({"offset": -1}, "offset must be"),
                                        ({"since": "soon"}, "since='soon': not a time; give a date"),
                                        ({"until": "2026-13-01"}, "until='2026-13-01': not a time"),
                                        ({"since": float("nan")}, "since='nan': not a time"),
                                        ({"since": True}, "since='True': not a time"),
                                        ({"dominant": 3}, "dominant must be an emotion's name")])
def test_bad_queries_are_one_line(kw, message):
    with pytest.raises(ConfigError, match=message) as e:
        CallQuery(**kw)
    assert "\n" not in str(e.value)


DEC_1 = 1796083200.0   # 2026-12-01T00:00:00Z


@pytest.mark.parametrize("since", ["2026-12-01", "2026-12-01T00:00:00Z", "2026-12-01T01:00:00+01:00",
                                   "2026-12-01T00:00:00", datetime(2026, 12, 1), date(2026, 12, 1),
                                   datetime(2026, 12, 1, tzinfo=timezone.utc), "1796083200", DEC_1, int(DEC_1)])
def test_call_query_takes_the_times_the_service_takes(since):
    """A date, a date and time (no zone: UTC), epoch seconds, a datetime or date: as ?since= does."""
    assert CallQuery(since=since).since == DEC_1 and CallQuery(until=since).until == DEC_1


def test_dominant_and_speaker_in_any_case_and_an_unknown_emotion_said(db_url):
    store = open_store(db_url)
    store.save_call(fake_result("angry.wav", dominant="angry"))
    store.save_call(fake_result("custom.wav", dominant="Frustrated"))   # a model with labels of its own
    store.save_call(fake_result("Named.wav", channels=("Ana", "Customer")))

    def names(**kw):
        items, total = store.list_calls(CallQuery(sort="file", **kw))
        assert total == len(items)
        return sorted(c["file"] for c in items)

    assert names(dominant="Angry") == names(dominant=" ANGRY ") == ["angry.wav"]
    assert names(dominant="frustrated") == ["custom.wav"]                # stored in its own case
    assert names(dominant="calm") == []                                  # an emotion no call has: none
    for bad in ("anger", "nonesuch"):                                    # not an emotion: said, not "none"
        with pytest.raises(ConfigError, match=f"dominant='{bad}' is not an emotion; one of angry, calm, "):
            store.list_calls(CallQuery(dominant=bad))
        with pytest.raises(ConfigError, match="is not an emotion"):
            list(store.iter_calls(CallQuery(dominant=bad)))
    assert names(speaker="Customer") == ["Named.wav", "angry.wav", "custom.wav"]   # role or name, any case
    assert names(speaker="CUSTOMER", min_change=0.1) == ["angry.wav", "custom.wav"]   # that speaker's own change
    assert names(speaker="ana") == names(speaker="ANA") == ["Named.wav"]
    assert names(speaker="AGENT") == ["angry.wav", "custom.wav"]
    now = time.time()
    assert len(names(since="2000-01-01", until=datetime.now(timezone.utc) + timedelta(hours=1))) == 3
    assert names(since=datetime.now(timezone.utc) + timedelta(hours=1)) == []
    assert len(names(until=str(now + 60))) == 3 and names(until=date(2000, 1, 1)) == []
    store.close()
    # with a speaker, dominant is that speaker's: an angry customer in a mostly calm call
    mixed = fake_result("mixed.wav", dominant="calm")
    mixed["summary"]["channels"]["customer"]["dominant"] = "angry"
    store.save_call(mixed)
    assert names(dominant="angry") == ["angry.wav"]
    assert names(speaker="customer", dominant="Angry") == ["angry.wav", "mixed.wav"]
    assert names(speaker="agent", dominant="angry") == ["angry.wav"]


def test_jobs_claim_lease_finish_once(db_url):
    store = open_store(db_url)
    a = store.enqueue("a.wav", audio_path="/tmp/a.wav", options={"smooth": 3.0})
    b = store.enqueue("b.wav", audio_path="/tmp/b.wav", options={})
    c1 = store.claim("w1", lease=60)
    c2 = store.claim("w2", lease=60)
    assert (c1.id, c2.id) == (a["id"], b["id"]) and c1.options == {"smooth": 3.0}
    assert store.claim("w3", lease=60) is None                         # both held
    assert store.heartbeat(c1.id, "w1", lease=60) and not store.heartbeat(c1.id, "w2", lease=60)
    cid = store.save_call(fake_result("a.wav"), job=(c1.id, "w1"))
    assert store.save_call(fake_result("a.wav"), job=(c1.id, "w1")) is None  # done: never stored twice
    job = store.get_job(c1.id)
    assert job["status"] == "done" and job["call"] == cid and job["result"]["file"] == "a.wav"
    assert store.fail_job(c2.id, "w2", "b.wav: not audio", 415)
    assert store.get_job(c2.id)["error"] == "b.wav: not audio"
    assert store.job_counts() == {"queued": 0, "running": 0, "done": 1, "failed": 1}
    assert store.count_calls() == 1
    assert store.delete_call(cid) and store.get_job(c1.id) is None      # the job (and its file name) go too
    store.close()


def test_a_killed_workers_job_is_rerun_then_failed_after_max_attempts(db_url):
    store = open_store(db_url)
    j = store.enqueue("a.wav", audio_path=None, options={})
    first = store.claim("dead", lease=0.05)
    time.sleep(0.1)                                                    # its lease runs out: the worker died
    second = store.claim("alive", lease=60)
    assert second.id == first.id == j["id"] and second.attempts == 2
    assert store.save_call(fake_result("a.wav"), job=(j["id"], "dead")) is None  # the dead one lost it
    assert store.save_call(fake_result("a.wav"), job=(j["id"], "alive"))
    assert store.count_calls() == 1
    h = store.enqueue("handed-back.wav", audio_path=None, options={})
    assert store.claim("stopping", lease=60).id == h["id"]
    assert store.release_job(h["id"], "stopping")                       # an orderly stop hands it back ...
    again = store.claim("next", lease=60)
    assert again.id == h["id"] and again.attempts == 1                  # ... at once, and it is no interruption
    store.fail_job(h["id"], "next", "h: done with it", 422)
    k = store.enqueue("poison.wav", audio_path=None, options={})
    for _ in range(MAX_ATTEMPTS):
        assert store.claim("w", lease=0.01).id == k["id"]
        time.sleep(0.03)
    assert store.claim("w", lease=60) is None
    got = store.get_job(k["id"])
    assert got["status"] == "failed" and f"interrupted {MAX_ATTEMPTS} times" in got["error"]
    store.close()


def test_two_workers_on_postgresql_take_20_jobs_each_once(postgres_url):
    _two_workers(postgres_url)


def test_two_workers_on_sqlite_take_20_jobs_each_once(tmp_path):
    _two_workers(f"sqlite:///{tmp_path / 's.db'}")


def _two_workers(url):
    """Two stores (separate engines, as two servers have) claim 20 queued jobs concurrently."""
    open_store(url).close()
    stores = [open_store(url), open_store(url)]
    ids = [stores[0].enqueue(f"{i}.wav", audio_path=None, options={})["id"] for i in range(20)]
    taken = {0: [], 1: []}

    def work(k):
        st = stores[k]
        while (c := st.claim(f"w{k}", lease=60)) is not None:
            taken[k].append(c.id)
            assert st.save_call(fake_result(c.file), job=(c.id, f"w{k}")) is not None
            time.sleep(0.002)

    ts = [threading.Thread(target=work, args=(k,)) for k in (0, 1)]
    for t in ts:
        t.start()
    for t in ts:
        t.join(60)
    every = taken[0] + taken[1]
    assert sorted(every) == sorted(ids) and len(set(every)) == 20      # each once
    assert taken[0] and taken[1]                                       # both worked
    assert stores[0].count_calls() == 20
    assert stores[0].job_counts()["done"] == 20
    for st in stores:
        st.close()


# -- uploads in the data folder -----------------------------------------------------------------------
def test_an_upload_is_kept_private_under_a_path_relative_to_the_data_folder(tmp_path):
    import os
    import stat

    from escucha.store.uploads import keep_upload, upload_path

    src = tmp_path / "incoming.wav"
    src.write_bytes(b"RIFF....")
    kept = keep_upload(src, tmp_path / "data", "abc123", "Call 7.WAV")
    assert kept == "uploads/abc123.wav" and not src.exists()
    assert stat.S_IMODE(os.stat(tmp_path / "data" / "uploads").st_mode) == 0o700
    assert stat.S_IMODE(os.stat(tmp_path / "data" / kept).st_mode) == 0o600
    other = tmp_path / "mounted-elsewhere"
    (tmp_path / "data").rename(other)                                   # another server's mount of it
    for stored, want in [(kept, other / "uploads" / "abc123.wav"),
                         ("/srv/escucha/data/uploads/abc123.wav", other / "uploads" / "abc123.wav"),  # an old row
                         (str(other / "uploads" / "abc123.wav"), other / "uploads" / "abc123.wav"),
                         (None, None)]:
        assert upload_path(stored, other) == want


def test_prune_deletes_the_uploads_no_job_needs_and_keeps_the_rest(tmp_path):
    import os

    from escucha.store.uploads import prune_orphans

    store = open_store(data=tmp_path)
    up = tmp_path / "uploads"
    up.mkdir()

    def job(keep: bool, end: str | None):
        j = store.enqueue("a.wav", audio_path=None, options={}, keep_audio=keep)
        (up / f"{j['id']}.wav").write_bytes(b"RIFF")
        if end is not None:
            c = store.claim("w", lease=30)
            assert c.id == j["id"]
            if end == "failed":
                assert store.fail_job(c.id, "w", "a.wav: cannot decode audio")
            else:
                assert store.save_call(fake_result("a.wav"), job=(c.id, "w"))
        return up / f"{j['id']}.wav"

    failed, failed_kept, done, done_kept, queued = (job(False, "failed"), job(True, "failed"), job(False, "done"),
                                                    job(True, "done"), job(False, None))
    fresh, old, part = up / "0fresh.wav", up / "0old.wav", up / ".0old.part"    # no job names them
    for f in (fresh, old, part):
        f.write_bytes(b"RIFF")
    for f in (old, part):
        os.utime(f, (time.time() - 7200, time.time() - 7200))
    assert prune_orphans(store, tmp_path) == 4                          # fresh failed/done ones too, at once
    assert sorted(p.name for p in up.iterdir()) == sorted(p.name for p in (failed_kept, done_kept, queued, fresh))
    store.close()


def test_a_full_or_read_only_data_folder_is_one_line_and_leaves_no_partial_file(tmp_path):
    """A real small file system (tmpfs: needs the right to mount, else skipped) as the data folder."""
    import subprocess

    from escucha.store.uploads import DataFolderError, keep_upload

    data = tmp_path / "data"
    data.mkdir()
    if subprocess.run(["mount", "-t", "tmpfs", "-o", "size=64k", "tmpfs", str(data)], capture_output=True).returncode:
        pytest.skip("cannot mount a small tmpfs here (needs root in a container that allows it)")
    try:
        src = tmp_path / "big.wav"                                      # another file system: copied, then renamed
        src.write_bytes(b"\0" * 200_000)
        with pytest.raises(DataFolderError) as e:
            keep_upload(src, data, "j1", "big.wav")
        assert e.value.no_space and str(data) in str(e.value) and "no space left" in str(e.value)
        assert list((data / "uploads").iterdir()) == [] and src.exists()   # no .part left; the upload still there
        subprocess.run(["mount", "-o", "remount,ro", str(data)], check=True)
        src.write_bytes(b"RIFF")
        with pytest.raises(DataFolderError) as e:
            keep_upload(src, data, "j2", "small.wav")
        assert not e.value.no_space and "not writable" in str(e.value) and "\n" not in str(e.value)
    finally:
        subprocess.run(["umount", str(data)], capture_output=True)


def test_a_database_that_fails_while_exporting_is_a_store_error_without_its_password(tmp_path):
    pytest.importorskip("psycopg", reason="psycopg is not installed (pip install 'escucha[postgres]')")
    from escucha.errors import StoreError
    from escucha.store import Store

    store = Store(make_engine("postgresql+psycopg://escucha:hunter2@127.0.0.1:9/none"))   # nothing listens
    for fn in (store.ping, lambda: list(store.iter_calls()), store.job_counts):
        with pytest.raises(StoreError) as e:
            fn()
        assert "hunter2" not in str(e.value) and "127.0.0.1" in str(e.value)      # the whole line, for the log
        assert "127.0.0.1:9/none" not in e.value.problem                           # what a client may be told
    store.close()
