"""Receiving audio: a bounded upload into a temporary folder, under a name the service chose.

An upload arrives as ``multipart/form-data`` (field ``file``) or as a raw body with an audio
content type. It is streamed into ``<temporary folder>/upload<suffix>``: the suffix is one of
:data:`SUFFIXES` (libsndfile's formats) taken from the client's file name or content type, or
none; nothing else from the request reaches a path. The client's file name is kept only for
messages, so that an error reads as the command line's would for a file of that name::

    clip.wav: cannot decode audio (Format not recognised)
"""

from __future__ import annotations

import logging
import os
import re
import unicodedata
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

from ..utils.io import NO_SPACE, NOT_WRITABLE

__all__ = ["HTTPProblem", "Upload", "receive_upload", "display_name", "disk_problem", "SUFFIXES"]

log = logging.getLogger("escucha.service")

#: file name suffixes kept on the stored upload (what libsndfile reads)
SUFFIXES = frozenset({".wav", ".wave", ".flac", ".ogg", ".oga", ".opus", ".mp3", ".aiff", ".aif", ".aifc", ".au",
                      ".snd", ".caf", ".w64", ".rf64", ".voc", ".sph", ".nist"})
_TYPE_SUFFIX = {"audio/wav": ".wav", "audio/x-wav": ".wav", "audio/wave": ".wav", "audio/vnd.wave": ".wav",
                "audio/flac": ".flac", "audio/x-flac": ".flac", "audio/ogg": ".ogg", "audio/opus": ".opus",
                "audio/mpeg": ".mp3", "audio/mp3": ".mp3", "audio/aiff": ".aiff", "audio/x-aiff": ".aiff",
                "audio/basic": ".au"}
#: bytes a multipart body may carry besides the file (boundaries, headers, small fields)
MULTIPART_SLACK = 64 * 1024


class HTTPProblem(Exception):
    """An answer other than success: HTTP ``status`` and a one-line ``message`` for a person."""

    def __init__(self, status: int, message: str, headers: dict | None = None):
        super().__init__(message)
        self.status, self.message, self.headers = int(status), message, headers or {}


@dataclass
class Upload:
    """A received upload: where the service stored it, and the client's name for it."""

    path: Path
    name: str
    size: int

    def message(self, text: str) -> str:
        """``text`` (a library message naming :attr:`path`) naming the client's file instead."""
        return str(text).replace(str(self.path), self.name)


def display_name(raw: str | None, default: str = "upload") -> str:
    """The client's file name, fit to show: last path component, no control characters, at
    most 120 characters; ``default`` when nothing is left."""
    name = re.split(r"[/\\]", str(raw or ""))[-1]
    name = "".join(ch for ch in name if unicodedata.category(ch)[0] != "C").strip()
    if name in ("", ".", ".."):
        return default
    return name if len(name) <= 120 else name[:100] + "…" + name[-19:]


def _suffix(name: str, content_type: str) -> str:
    s = PurePosixPath(name).suffix.lower()
    if s in SUFFIXES:
        return s
    return _TYPE_SUFFIX.get(content_type, "")


def _too_large(name: str | None, limit: int) -> HTTPProblem:
    """413 naming the file when its name is known (a multipart body too long by its header is
    refused before its file name is read)."""
    return HTTPProblem(413, f"{name + ': ' if name else ''}upload is larger than this server's limit of "
                            f"{limit / 1e6:g} MB (escucha serve --max-upload-mb; a compressed copy, e.g. FLAC or "
                            "Opus, is smaller)")


def disk_problem(e: OSError, folder) -> HTTPProblem:
    """The answer when an upload cannot be written into ``folder``: ``507`` when the disk is full,
    ``503`` when the folder is read-only or not writable, naming the folder's place (the
    temporary folder's parent); logged at WARNING with the system's words."""
    where = Path(folder).parent
    log.warning("cannot write an upload into %s: %s", folder, e)
    if e.errno in NO_SPACE:
        return HTTPProblem(507, f"no space left for uploads in {where} on the server; retry later",
                           {"Retry-After": "30"})
    if e.errno in NOT_WRITABLE:
        return HTTPProblem(503, f"the server's folder for uploads {where} is not writable ({os.strerror(e.errno)}); "
                                "retry later", {"Retry-After": "30"})
    return HTTPProblem(503, f"cannot write the upload into {where} on the server ({os.strerror(e.errno or 0)}); "
                            "retry later", {"Retry-After": "30"})


def _create(path: Path):
    """``path`` opened for writing, readable by this user only (a recording is private)."""
    return open(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600), "wb")


def is_audio_type(content_type: str) -> bool:
    return content_type.startswith("audio/") or content_type == "application/octet-stream"


async def receive_upload(request, folder: Path, *, max_bytes: int, filename: str | None = None) -> Upload:
    """Stream the request's audio into ``folder`` (at most ``max_bytes`` of audio).

    Raises
    ------
    HTTPProblem
        413 when the upload is too large, 415 for a content type that is not audio or
        multipart, 400 for a multipart body without a ``file`` field or that cannot be parsed.
    """
    from python_multipart.multipart import parse_options_header

    ctype_raw = request.headers.get("content-type", "")
    ctype = parse_options_header(ctype_raw)[0].decode("latin-1").lower()
    declared = request.headers.get("content-length")
    try:
        declared_n = int(declared) if declared is not None else None
    except ValueError:
        raise HTTPProblem(400, f"Content-Length {declared!r} is not a number") from None
    if ctype == "multipart/form-data":
        if declared_n is not None and declared_n > max_bytes + MULTIPART_SLACK:
            raise _too_large(None, max_bytes)
        return await _receive_multipart(request, folder, ctype_raw, max_bytes=max_bytes)
    if is_audio_type(ctype):
        name = display_name(filename, default="upload" + _TYPE_SUFFIX.get(ctype, ""))
        if declared_n is not None and declared_n > max_bytes:
            raise _too_large(name, max_bytes)
        path = folder / ("upload" + _suffix(name, ctype))
        size = 0
        try:
            with _create(path) as f:
                async for chunk in _body(request):
                    size += len(chunk)
                    if size > max_bytes:
                        raise _too_large(name, max_bytes)
                    f.write(chunk)
        except OSError as e:
            path.unlink(missing_ok=True)   # no partial upload left behind
            raise disk_problem(e, folder) from None
        return Upload(path, name, size)
    raise HTTPProblem(415, f"content type {ctype or '(none)'!r} is not accepted: send multipart/form-data with the "
                           "audio in field 'file', or the audio itself with an audio/* content type")


async def _body(request):
    from starlette.requests import ClientDisconnect

    try:
        async for chunk in request.stream():
            if chunk:
                yield chunk
    except ClientDisconnect:
        raise HTTPProblem(400, "the upload was interrupted (client disconnected)") from None


async def _receive_multipart(request, folder: Path, ctype_raw: str, *, max_bytes: int) -> Upload:
    from python_multipart.exceptions import MultipartParseError
    from python_multipart.multipart import MultipartParser, parse_options_header

    boundary = parse_options_header(ctype_raw)[1].get(b"boundary")
    if not boundary:
        raise HTTPProblem(400, "multipart/form-data without a boundary; let the HTTP client build the body")
    st = {"headers": {}, "field": b"", "value": b"", "target": None, "name": None, "size": 0, "other": 0,
          "files": 0, "problem": None}
    path = None

    def on_part_begin():
        st["headers"], st["target"] = {}, None

    def on_header_field(data, start, end):
        st["field"] += data[start:end]

    def on_header_value(data, start, end):
        st["value"] += data[start:end]

    def on_header_end():
        st["headers"][st["field"].lower()] = st["value"]
        st["field"], st["value"] = b"", b""

    def on_headers_finished():
        nonlocal path
        disp, params = parse_options_header(st["headers"].get(b"content-disposition", b""))
        if params.get(b"name") != b"file":
            if params.get(b"filename") is not None and st["problem"] is None:   # a file, in another field
                field = (params.get(b"name") or b"").decode("utf-8", "replace")[:40]
                st["problem"] = HTTPProblem(400, f"a file came in the multipart field {field!r}; send the recording "
                                                 "in the field 'file' (curl -F file=@call.wav)")
            return
        st["files"] += 1
        if st["files"] > 1:
            st["problem"] = HTTPProblem(400, "more than one 'file' field; send one recording per request")
            return
        raw = params.get(b"filename")
        name = display_name(raw.decode("utf-8", "replace") if raw is not None else None)
        part_type = parse_options_header(st["headers"].get(b"content-type", b""))[0].decode("latin-1").lower()
        path = folder / ("upload" + _suffix(name, part_type))
        st["name"], st["target"] = name, _create(path)

    def on_part_data(data, start, end):
        n = end - start
        if st["target"] is None:
            st["other"] += n
            if st["other"] > MULTIPART_SLACK and st["problem"] is None:
                st["problem"] = HTTPProblem(413, f"form fields besides 'file' exceed {MULTIPART_SLACK} bytes")
            return
        st["size"] += n
        if st["size"] > max_bytes:
            if st["problem"] is None:
                st["problem"] = _too_large(st["name"], max_bytes)
            return
        st["target"].write(data[start:end])

    def on_part_end():
        if st["target"] is not None:
            st["target"].close()
            st["target"] = None

    parser = MultipartParser(boundary, {
        "on_part_begin": on_part_begin, "on_header_field": on_header_field, "on_header_value": on_header_value,
        "on_header_end": on_header_end, "on_headers_finished": on_headers_finished, "on_part_data": on_part_data,
        "on_part_end": on_part_end})
    try:
        async for chunk in _body(request):
            parser.write(chunk)
            if st["problem"] is not None:
                raise st["problem"]
        parser.finalize()
    except MultipartParseError as e:
        raise HTTPProblem(400, f"the multipart/form-data body cannot be parsed ({str(e).splitlines()[0]})") from None
    except OSError as e:
        if st["target"] is not None:
            st["target"].close()
            st["target"] = None
        if path is not None:
            path.unlink(missing_ok=True)   # no partial upload left behind
        raise disk_problem(e, folder) from None
    finally:
        if st["target"] is not None:
            st["target"].close()
    if st["problem"] is not None:
        raise st["problem"]
    if path is None:
        raise HTTPProblem(400, "no audio in the request: send the recording in the multipart field 'file'")
    return Upload(path, st["name"], st["size"])
