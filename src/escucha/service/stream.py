"""``WS /v1/stream``: live audio in, speech segments out, through :class:`escucha.longaudio.LiveAnalyzer`.

The protocol, one connection per stream::

    client -> {"sample_rate": 16000, "format": "s16le", "channels": 1,          first message: JSON
               "channel_mode": "mono", "channel_names": null, "smooth": 3,
               "max_segment": 10, "vad_threshold": 0.5, "baseline": false,
               "token": null}
    server -> {"event": "ready", "labels": [...], "max_delay": 10.4, ...}
    client -> binary frames of interleaved PCM (e.g. 100 ms each; any length up to 1 MB)
    server -> {"event": "segment", "channel", "start", "end", "label", "confidence",
               "probabilities", "delay"}                                   as each segment closes
    client -> {"event": "end"}                                             (text)
    server -> the last segments, then {"event": "summary", "result": {...}} and closes (1000)

With ``"baseline": true`` segments are sent as heard until the end; the last ones and the
summary's result hear each speaker against their own neutral voice, so the result's segments may
carry other answers than the ones sent before.

A segment is reported at most ``max_segment + 0.4`` seconds of audio after it began
(``delay``: seconds of audio received after the segment's end when it was reported). Errors
are ``{"event": "error", "error": "<one line>"}`` followed by a close: 1008 token missing or
wrong, or no message for the timeout; 1013 too many streams open; 1007 bad settings or audio;
1009 a frame over 1 MB or more audio than the server's ``--max-seconds``.

Browsers cannot set headers on a WebSocket, so the token may come in the first message; other
clients may send ``Authorization: Bearer <token>`` instead.
"""

from __future__ import annotations

import asyncio
import json

from fastapi import FastAPI, WebSocket, WebSocketDisconnect

from ..errors import AudioError, EscuchaError
from ..longaudio.settings import BASELINE_DEFAULT
from .problems import api_words, problem_of

__all__ = ["add_stream_route", "MAX_FRAME_BYTES", "parse_settings"]

MAX_FRAME_BYTES = 1 << 20
_RATES = (1000, 384000)


class _Close(Exception):
    def __init__(self, code: int, message: str):
        super().__init__(message)
        self.code, self.message = code, message


def parse_settings(msg: dict) -> dict:
    """Check the first message; returns LiveAnalyzer keyword arguments (``_Close`` 1007 when bad)."""
    from ..longaudio import VADConfig
    from ..longaudio.stream import PCM_FORMATS

    if not isinstance(msg, dict):
        raise _Close(1007, "the first message must be a JSON object of settings, e.g. "
                           '{"sample_rate": 16000, "format": "s16le"}')
    known = {"sample_rate", "format", "channels", "channel_mode", "channel_names", "smooth", "max_segment",
             "vad_threshold", "token", "labels", "speakers", "transcribe", "baseline"}
    unknown = sorted(set(msg) - known)
    if unknown:
        raise _Close(1007, f"unknown settings {', '.join(map(repr, unknown))}; known: {', '.join(sorted(known))}")

    def number(key, default, lo, hi, kind=float):
        v = msg.get(key, default)
        if isinstance(v, bool) or not isinstance(v, (int, float)) or v != v or not lo <= v <= hi \
                or (kind is int and int(v) != v):
            what = "a whole number" if kind is int else "a number"
            raise _Close(1007, f"setting {key!r} must be {what} from {lo:g} to {hi:g}, got {v!r}")
        return kind(v)

    if "sample_rate" not in msg:
        raise _Close(1007, "setting 'sample_rate' (Hz of the PCM you will send) is required")
    fmt = msg.get("format", "s16le")
    if fmt not in PCM_FORMATS:
        raise _Close(1007, f"setting 'format' must be one of {', '.join(PCM_FORMATS)}, got {fmt!r}")
    mode = msg.get("channel_mode", "auto")
    if mode not in ("auto", "mono", "split"):
        raise _Close(1007, f"setting 'channel_mode' must be 'auto', 'mono' or 'split', got {mode!r}")
    speakers = msg.get("speakers", "auto")
    if not (speakers in ("auto", "off") or (isinstance(speakers, int) and not isinstance(speakers, bool)
                                            and 0 <= speakers <= 16)):
        raise _Close(1007, f"setting 'speakers' must be 'auto', 'off' or a number of speakers (0-16), got {speakers!r}")
    transcribe = msg.get("transcribe", False)
    if not isinstance(transcribe, bool):
        raise _Close(1007, f"setting 'transcribe' must be true or false, got {transcribe!r}")
    baseline = msg.get("baseline", BASELINE_DEFAULT)
    if not isinstance(baseline, bool):
        raise _Close(1007, f"setting 'baseline' must be true or false, got {baseline!r}")
    names = msg.get("channel_names")
    if names is not None and not (isinstance(names, str) or (isinstance(names, list)
                                                             and all(isinstance(x, str) for x in names))):
        raise _Close(1007, "setting 'channel_names' must be a comma-separated string or a list of strings")
    try:
        vad = VADConfig(threshold=number("vad_threshold", 0.5, 0.01, 0.99),
                        max_segment=number("max_segment", 10.0, 1.0, 60.0))
    except EscuchaError as e:
        raise _Close(1007, str(e)) from None
    labels = msg.get("labels")
    if labels is not None and not (isinstance(labels, str) or (isinstance(labels, list)
                                                               and all(isinstance(x, str) for x in labels))):
        raise _Close(1007, "setting 'labels' must be a comma-separated string or a list of emotions")
    return dict(labels=labels, sample_rate=number("sample_rate", None, *_RATES, kind=int), sample_format=fmt,
                channels_in=number("channels", 1, 1, 32, kind=int), channels=mode, channel_names=names,
                smooth=number("smooth", 3.0, 0.0, 60.0), vad=vad, speakers=speakers, transcribe=transcribe,
                baseline=baseline)


def add_stream_route(app: FastAPI) -> None:
    """Register ``WS /v1/stream`` on a service made by :func:`escucha.service.create_app`."""
    st = app.state

    @app.websocket("/v1/stream")
    async def stream(ws: WebSocket):
        from ..longaudio import LiveAnalyzer

        cfg, pool, predictor = st.config, st.pool, st.predictor
        await ws.accept()
        opened = False
        loop = asyncio.get_running_loop()

        async def send(event: dict):
            await ws.send_text(json.dumps(event, allow_nan=False))

        try:
            if st.streams["open"] >= cfg.max_streams:
                raise _Close(1013, f"server busy: {cfg.max_streams} streams are already open; retry later")
            st.streams["open"] += 1
            opened = True
            header = ws.headers.get("authorization", "")
            header_token = header[7:].strip() if header.lower().startswith("bearer ") else None
            try:
                first = await asyncio.wait_for(ws.receive(), cfg.timeout)
            except asyncio.TimeoutError:
                raise _Close(1008, f"no settings within {cfg.timeout:g} s") from None
            if first["type"] == "websocket.disconnect":
                return
            if first.get("text") is None:
                raise _Close(1007, "the first message must be text: the JSON settings")
            try:
                msg = json.loads(first["text"])
            except ValueError:
                raise _Close(1007, "the first message is not JSON; send the settings as a JSON object") from None
            if not (st.token_ok(header_token) or st.token_ok(msg.get("token") if isinstance(msg, dict) else None)):
                raise _Close(1008, "missing or wrong bearer token: send it as 'token' in the settings or as "
                                   "'Authorization: Bearer <token>'")
            opts = parse_settings(msg)
            try:
                from ..inference.answers import answer_among

                predictor = answer_among(predictor, opts.pop("labels"))
                if opts.get("transcribe"):  # one Whisper model for the whole service
                    opts["transcribe"] = await loop.run_in_executor(pool.executor, st.transcriber)
                opts["speakers"] = st.speakers_for(opts["speakers"])   # the service's agent voice, if any
                live = await loop.run_in_executor(pool.executor, lambda: LiveAnalyzer(predictor, name="stream", **opts))
            except EscuchaError as e:
                raise _Close(1007, api_words(str(e))) from None
            max_delay = opts["vad"].max_segment + opts["vad"].min_silence
            await send({"event": "ready", "labels": list(predictor.labels), "sample_rate": opts["sample_rate"],
                        "format": opts["sample_format"], "channels": live.result().channels, "max_delay": max_delay,
                        "max_seconds": cfg.max_seconds})

            async def report(events):
                for ev in events:   # delay: audio received after the moment the event is about
                    at = ev["start"] if ev["event"] == "speech_start" else ev["end"]
                    ev["delay"] = round(max(0.0, live.duration - at), 3)
                    await send(ev)

            while True:
                try:
                    m = await asyncio.wait_for(ws.receive(), cfg.timeout)
                except asyncio.TimeoutError:
                    raise _Close(1008, f"no audio for {cfg.timeout:g} s; closing the stream") from None
                if m["type"] == "websocket.disconnect":
                    return
                data = m.get("bytes")
                if data is not None:
                    if len(data) > MAX_FRAME_BYTES:
                        raise _Close(1009, f"a frame of {len(data)} bytes is over the limit of {MAX_FRAME_BYTES}")
                    try:
                        events = await loop.run_in_executor(pool.executor, live.feed_events, data)
                    except AudioError as e:
                        raise _Close(1007, str(e)) from None
                    if live.duration > cfg.max_seconds:
                        raise _Close(1009, f"stream: over this server's limit of {cfg.max_seconds:g} s of audio")
                    await report(events)
                    continue
                try:
                    ctl = json.loads(m.get("text") or "")
                except ValueError:
                    ctl = None
                if not (isinstance(ctl, dict) and ctl.get("event") == "end"):
                    raise _Close(1007, 'text messages after the settings must be {"event": "end"}; send audio as '
                                       "binary frames")
                await report(await loop.run_in_executor(pool.executor, live.flush_events))
                res = live.result(name="stream")
                await send({"event": "summary", "result": res.to_dict(windows=False)})
                await ws.close(1000)
                return
        except _Close as e:
            await _close(ws, e.code, e.message)
        except WebSocketDisconnect:
            return
        except Exception as e:  # a bug: one line to the client, the traceback to the log
            await _close(ws, 1011, problem_of(e).message)
        finally:
            if opened:
                st.streams["open"] -= 1


async def _close(ws: WebSocket, code: int, message: str) -> None:
    try:
        await ws.send_text(json.dumps({"event": "error", "error": message}))
        await ws.close(code)
    except Exception:  # the client has gone already
        pass
