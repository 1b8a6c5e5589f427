"""Download code against a server on 127.0.0.1 (no internet in tests)."""

import hashlib
import http.server
import threading
import zipfile
from functools import partial

import pytest

from escucha.corpora import scan_ravdess
from escucha.corpora.download import Resource, download_corpus, download_file, extract_zip
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
        download_file(f"{url}/nothing.zip", tmp_path / "x.zip", show_progress=False)


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
        download_file("http://127.0.0.1:9/x.zip", blocker / "sub" / "x.zip", show_progress=False)
