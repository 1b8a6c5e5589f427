"""Download code against a server on 127.0.0.1 (no internet in tests); extraction of hostile archives."""

import hashlib
import http.server
import io
import stat
import struct
import tarfile
import threading
import zipfile
from functools import partial

import pytest

from escucha.corpora import scan_ravdess
from escucha.corpora.download import Resource, download_corpus, download_file, extract_archive, extract_zip
from escucha.errors import CorpusError

from .conftest import make_fake_ravdess


@pytest.fixture()
def server(tmp_path):
    root = tmp_path / "www"
    root.mkdir()
    handler = partial(http.server.SimpleHTTPRequestHandler, directory=str(root))
    handler.log_message = lambda *a, **k: None
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    t = threading.Thread(target=httpd.serve_forever, daemon=True)
    t.start()
    yield root, f"http://127.0.0.1:{httpd.server_address[1]}"
    httpd.shutdown()


def _zip_corpus(tmp_path, www):
    src = make_fake_ravdess(tmp_path / "src", actors=(1, 2), emotions=(1, 5), reps=(1,))
    archive = www / "corpus.zip"
    with zipfile.ZipFile(archive, "w") as z:
        for f in sorted(src.rglob("*.wav")):
            z.write(f, f.relative_to(src))
    return archive, hashlib.md5(archive.read_bytes()).hexdigest()


def test_download_verify_extract(server, tmp_path):
    www, url = server
    archive, md5 = _zip_corpus(tmp_path, www)
    res = Resource(name="corpus.zip", url=f"{url}/corpus.zip", md5=md5)
    out = download_corpus("ravdess", tmp_path / "data", resource=res, show_progress=False)
    recs = scan_ravdess(out)
    assert len(recs) == 4 and {r.emotion for r in recs} == {"neutral", "angry"}
    # second call finds the verified archive and does not fetch again
    archive.unlink()
    download_corpus("ravdess", tmp_path / "data", resource=res, show_progress=False)


def test_checksum_mismatch_leaves_nothing(server, tmp_path):
    www, url = server
    _zip_corpus(tmp_path, www)
    with pytest.raises(CorpusError, match="checksum mismatch"):
        download_file(f"{url}/corpus.zip", tmp_path / "dl" / "corpus.zip", md5="0" * 32, show_progress=False)
    assert list((tmp_path / "dl").iterdir()) == []


def test_missing_url_is_clear_error(server, tmp_path):
    _, url = server
    with pytest.raises(CorpusError, match="download failed"):
        download_file(f"{url}/nothing.zip", tmp_path / "x.zip", md5="0" * 32, show_progress=False)


def test_zip_slip_is_refused(tmp_path):
    bad = tmp_path / "bad.zip"
    with zipfile.ZipFile(bad, "w") as z:
        z.writestr("../../evil.txt", "x")
    with pytest.raises(CorpusError, match="outside"):
        extract_zip(bad, tmp_path / "target")
    assert not (tmp_path / "evil.txt").exists()


def test_atomic_write_keeps_old_file_on_failure_and_normal_permissions(tmp_path):
    import os

    from escucha.utils.io import atomic_path, atomic_write_text

    p = atomic_write_text(tmp_path / "out.txt", "v1")
    umask = os.umask(0)
    os.umask(umask)
    assert (p.stat().st_mode & 0o777) == 0o666 & ~umask
    with pytest.raises(RuntimeError):
        with atomic_path(p) as tmp:
            tmp.write_text("half")
            raise RuntimeError("crash")
    assert p.read_text() == "v1" and [f.name for f in tmp_path.iterdir()] == ["out.txt"]


def test_unwritable_target_is_a_clear_error(tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("not a folder")
    with pytest.raises(CorpusError, match="cannot create the download folder"):
        download_file("http://127.0.0.1:9/x.zip", blocker / "sub" / "x.zip", md5="0" * 32, show_progress=False)


# -- a checksum is always required ------------------------------------------------------------

@pytest.mark.parametrize("md5", [None, "", "   ", "abc", "z" * 32])
def test_download_without_a_valid_checksum_is_refused(server, tmp_path, md5):
    www, url = server
    _zip_corpus(tmp_path, www)
    with pytest.raises(CorpusError, match="a checksum is required"):
        download_file(f"{url}/corpus.zip", tmp_path / "dl" / "corpus.zip", md5=md5, show_progress=False)
    assert not (tmp_path / "dl").exists()


def test_resource_with_empty_md5_is_refused_not_unverified(server, tmp_path):
    www, url = server
    _zip_corpus(tmp_path, www)
    res = Resource(name="corpus.zip", url=f"{url}/corpus.zip", md5="")
    with pytest.raises(CorpusError, match="checksum is required"):
        download_corpus("ravdess", tmp_path / "data", resource=res, show_progress=False)
    assert not (tmp_path / "data").exists()


def test_download_larger_than_expected_is_stopped(server, tmp_path):
    www, url = server
    archive, md5 = _zip_corpus(tmp_path, www)
    with pytest.raises(CorpusError, match="larger than the expected 1000 bytes"):
        download_file(f"{url}/corpus.zip", tmp_path / "dl" / "corpus.zip", md5=md5, max_bytes=1000,
                      show_progress=False)
    assert list((tmp_path / "dl").iterdir()) == []
    # the same download within its size passes, with an upper-case checksum too
    got = download_file(f"{url}/corpus.zip", tmp_path / "dl" / "corpus.zip", md5=md5.upper(),
                        max_bytes=archive.stat().st_size, show_progress=False)
    assert got.read_bytes() == archive.read_bytes()


# -- hostile archives: one table, each row an archive builder and the expected message ---------

def _zip(path, entries, method=zipfile.ZIP_DEFLATED):
    """``entries``: ``[(name, data, unix_mode or None)]``."""
    with zipfile.ZipFile(path, "w", method) as z:
        for name, data, mode in entries:
            info = zipfile.ZipInfo(name)
            info.compress_type = method
            if mode is not None:
                info.create_system = 3
                info.external_attr = mode << 16
            z.writestr(info, data)
    return path


def _tar(path, entries, mode="w"):
    """``entries``: ``[(name, type, data_or_linkname)]``."""
    with tarfile.open(path, mode) as t:
        for name, kind, data in entries:
            info = tarfile.TarInfo(name)
            info.type = kind
            if kind == tarfile.REGTYPE:
                info.size = len(data)
                t.addfile(info, io.BytesIO(data))
            else:
                info.linkname = data if isinstance(data, str) else ""
                t.addfile(info)
    return path


def _lying_zip(path):
    """Two members; the second's headers declare 100 bytes but it inflates to 5000."""
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as z:
        z.writestr("good.txt", b"fine")
        z.writestr("big.txt", b"x" * 5000)
    data = bytearray(buf.getvalue())
    local = data.find(b"PK\x03\x04", 1)
    central = data.find(b"PK\x01\x02", data.find(b"PK\x01\x02") + 1)
    struct.pack_into("<I", data, local + 22, 100)
    struct.pack_into("<I", data, central + 24, 100)
    path.write_bytes(bytes(data))
    return path


REG = stat.S_IFREG | 0o644
BAD_ARCHIVES = [
    # (id, builder(tmp_path) -> archive, extract options, expected message fragment)
    ("zip-dotdot", lambda d: _zip(d / "a.zip", [("ok.txt", "x", None), ("../evil.txt", "x", None)]), {},
     "outside"),
    ("zip-nested-dotdot", lambda d: _zip(d / "a.zip", [("sub/../../evil.txt", "x", None)]), {}, "outside"),
    ("zip-absolute", lambda d: _zip(d / "a.zip", [("/tmp/evil.txt", "x", None)]), {}, "outside"),
    ("zip-windows-dotdot", lambda d: _zip(d / "a.zip", [("..\\evil.txt", "x", None)]), {}, "outside"),
    ("zip-windows-drive", lambda d: _zip(d / "a.zip", [("C:/evil.txt", "x", None)]), {}, "outside"),
    ("zip-symlink", lambda d: _zip(d / "a.zip", [("ok.txt", "x", REG),
                                                 ("link", "/etc/passwd", stat.S_IFLNK | 0o777)]), {},
     "is a symbolic link"),
    ("zip-fifo", lambda d: _zip(d / "a.zip", [("pipe", "", stat.S_IFIFO | 0o644)]), {}, "is a FIFO"),
    ("zip-char-device", lambda d: _zip(d / "a.zip", [("tty", "", stat.S_IFCHR | 0o644)]), {},
     "is a character device"),
    ("zip-bomb-ratio", lambda d: _zip(d / "a.zip", [("zeros.bin", b"\0" * (3 << 20), None)]), {},
     "more than the 100x accepted"),
    ("zip-total-size", lambda d: _zip(d / "a.zip", [("a.bin", bytes(range(256)) * 8, None)],
                                      method=zipfile.ZIP_STORED), {"max_bytes": 1000}, "more than 1000 bytes"),
    ("zip-ratio-option", lambda d: _zip(d / "a.zip", [("zeros.bin", b"\0" * (2 << 20), None)]),
     {"max_ratio": 10_000, "max_bytes": 1 << 20}, "more than 1048576 bytes"),
    ("zip-too-many-members", lambda d: _zip(d / "a.zip", [(f"f{i}.txt", "x", None) for i in range(5)]),
     {"max_members": 4}, "more than the 4 accepted"),
    ("zip-lying-header", lambda d: _lying_zip(d / "a.zip"), {}, "big.txt"),
    ("tar-symlink", lambda d: _tar(d / "a.tar", [("ok.txt", tarfile.REGTYPE, b"x"),
                                                 ("link", tarfile.SYMTYPE, "/etc/passwd")]), {},
     "is a symbolic link"),
    ("tar-hardlink", lambda d: _tar(d / "a.tar", [("ok.txt", tarfile.REGTYPE, b"x"),
                                                  ("hard", tarfile.LNKTYPE, "ok.txt")]), {}, "is a hard link"),
    ("tar-device", lambda d: _tar(d / "a.tar", [("dev", tarfile.CHRTYPE, "")]), {}, "is a device"),
    ("tar-fifo", lambda d: _tar(d / "a.tar", [("pipe", tarfile.FIFOTYPE, "")]), {}, "is a FIFO"),
    ("tar-dotdot", lambda d: _tar(d / "a.tar", [("../evil.txt", tarfile.REGTYPE, b"x")]), {}, "outside"),
    ("tar-absolute", lambda d: _tar(d / "a.tar", [("/tmp/evil.txt", tarfile.REGTYPE, b"x")]), {}, "outside"),
    ("targz-bomb", lambda d: _tar(d / "a.tar.gz", [("zeros.bin", tarfile.REGTYPE, b"\0" * (3 << 20))], "w:gz"),
     {}, "more than the 100x accepted"),
    ("tar-too-many-members", lambda d: _tar(d / "a.tar", [(f"f{i}", tarfile.REGTYPE, b"x") for i in range(5)]),
     {"max_members": 4}, "more than 4 members"),
    ("not-an-archive", lambda d: (d / "a.zip").write_bytes(b"hello, not a zip") and d / "a.zip", {},
     "not a zip or tar archive"),
    ("truncated-zip", lambda d: (d / "a.zip").write_bytes(_zip(d / "t.zip", [("a.txt", "x" * 100, None)])
                                                           .read_bytes()[:-30]) and d / "a.zip", {},
     "not a zip or tar archive"),
]


@pytest.mark.parametrize("build, options, message", [r[1:] for r in BAD_ARCHIVES], ids=[r[0] for r in BAD_ARCHIVES])
def test_hostile_archive_is_refused_and_leaves_nothing(tmp_path, build, options, message):
    src = tmp_path / "src"
    src.mkdir()
    archive = build(src)
    target = tmp_path / "root" / "target"
    with pytest.raises(CorpusError, match=message) as err:
        extract_archive(archive, target, **options)
    assert str(archive) in str(err.value)
    assert list(target.iterdir()) == []  # not even the good members before the bad one
    assert sorted(p.name for p in (tmp_path / "root").iterdir()) == ["target"]
    assert not (tmp_path / "evil.txt").exists()


def test_link_already_in_target_cannot_lead_outside(tmp_path):
    outside = tmp_path / "outside"
    outside.mkdir()
    target = tmp_path / "target"
    target.mkdir()
    (target / "sub").symlink_to(outside)
    archive = _zip(tmp_path / "a.zip", [("sub/evil.txt", "x", None)])
    with pytest.raises(CorpusError, match="outside"):
        extract_archive(archive, target)
    assert list(outside.iterdir()) == []


@pytest.mark.parametrize("kind", ["zip", "tar.gz"])
def test_good_archive_extracts_files_and_folders(tmp_path, kind):
    files = {"Actor_01/a.wav": b"RIFF" + bytes(range(256)) * 4, "Actor_02/b.wav": b"RIFF" + b"\1" * 300,
             "README.txt": b"hello"}
    if kind == "zip":
        archive = _zip(tmp_path / "a.zip", [("Actor_01/", "", stat.S_IFDIR | 0o755)]
                       + [(n, d, REG) for n, d in files.items()])
    else:
        archive = _tar(tmp_path / "a.tar.gz", [(n, tarfile.REGTYPE, d) for n, d in files.items()], "w:gz")
    out = extract_archive(archive, tmp_path / "out")
    got = {str(p.relative_to(out)): p.read_bytes() for p in out.rglob("*") if p.is_file()}
    assert got == files
    # extracting again is idempotent (files replaced in place, nothing else appears)
    extract_archive(archive, tmp_path / "out")
    assert {str(p.relative_to(out)) for p in out.rglob("*") if p.is_file()} == set(files)


def test_extract_zip_refuses_a_tar(tmp_path):
    archive = _tar(tmp_path / "a.tar", [("a.txt", tarfile.REGTYPE, b"x")])
    with pytest.raises(CorpusError, match="not a valid zip archive"):
        extract_zip(archive, tmp_path / "out")
