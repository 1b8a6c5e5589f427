import warnings

import pytest
import soundfile as sf

from escucha.corpora import CorpusWarning, parse_emodb_name, scan_corpus, scan_emodb
from escucha.errors import CorpusError
from escucha.labels import EMOTIONS

from .conftest import REPO, synth_clip

EMODB = REPO.parent / "shared" / "data" / "emodb"


@pytest.mark.parametrize("name, expected", [
    ("03a01Fa.wav", {"speaker": "03", "emotion": "happy", "gender": "male", "text": "a01"}),
    ("16b10Wb.wav", {"speaker": "16", "emotion": "angry", "gender": "female", "text": "b10"}),
    ("08a02Lc.wav", {"emotion": None, "code": "L"}),
    ("11b03Td.wav", {"emotion": "sad"}),
    ("09a05Aa.wav", {"emotion": "fearful"}),
    ("13a07Ea.wav", {"emotion": "disgust"}),
    ("10a04Nc.wav", {"emotion": "neutral"}),
])
def test_parse_emodb(name, expected):
    got = parse_emodb_name(name)
    assert {k: got[k] for k in expected} == expected


@pytest.mark.parametrize("name", ["03a01Xa.wav", "04a01Fa.wav", "03-01-05-01-01-01-01.wav", "03a1Fa.wav"])
def test_parse_emodb_rejects(name):
    with pytest.raises(CorpusError):
        parse_emodb_name(name)


def test_scan_corpus_recognises_emodb_layout(tmp_path):
    (tmp_path / "wav").mkdir()
    for n in ("03a01Fa", "08a02Wb", "16b10Nc"):
        sf.write(tmp_path / "wav" / f"{n}.wav", synth_clip(3, 1), 16000)
    recs = scan_corpus(tmp_path)
    assert [(r.corpus, r.speaker, r.emotion, r.gender) for r in recs] == [
        ("emodb", "03", "happy", "male"), ("emodb", "08", "angry", "female"), ("emodb", "16", "neutral", "female")]


def test_boredom_is_skipped_with_a_note_never_relabelled(tmp_path):
    (tmp_path / "wav").mkdir()
    for n in ("03a01Fa", "08a02Lb", "09a01La", "16b10Nc"):
        sf.write(tmp_path / "wav" / f"{n}.wav", synth_clip(3, 1, seconds=0.2), 16000)
    sf.write(tmp_path / "wav" / "notes.wav", synth_clip(3, 1, seconds=0.2), 16000)
    with warnings.catch_warnings(record=True) as w:
        warnings.simplefilter("always")
        recs = scan_emodb(tmp_path)
    assert [r.name for r in recs] == ["03a01Fa.wav", "16b10Nc.wav"]
    assert {r.emotion for r in recs} <= set(EMOTIONS)
    [msg] = [str(x.message) for x in w if issubclass(x.category, CorpusWarning)]
    assert "skipped 3 of 5 audio files" in msg and "2 boredom (Langeweile) clips, which have no escucha label" in msg
    assert "1 names that do not parse as EmoDB" in msg
    (tmp_path / "wav" / "notes.wav").unlink()
    with pytest.warns(CorpusWarning, match="2 boredom"):   # strict is about bad files, not about boredom
        assert len(scan_emodb(tmp_path, strict=True)) == 2


@pytest.mark.integration
def test_real_emodb():
    if not (EMODB / "wav").is_dir():
        pytest.skip(f"EmoDB not found at {EMODB}")
    with pytest.warns(CorpusWarning, match="skipped 81 of 535 audio files: 81 boredom"):
        recs = scan_emodb(EMODB)
    assert len(recs) == 535 - 81 and len({r.speaker for r in recs}) == 10
    assert sum(r.emotion == "angry" for r in recs) == 127
    assert {r.emotion for r in recs} == {"neutral", "happy", "sad", "angry", "fearful", "disgust"}
