import pytest
import soundfile as sf

from escucha.corpora import parse_emodb_name, scan_corpus, scan_emodb
from escucha.errors import CorpusError

from .conftest import REPO, synth_clip

EMODB = REPO.parent / "shared" / "data" / "emodb"


@pytest.mark.parametrize("name, expected", [
    ("03a01Fa.wav", {"speaker": "03", "emotion": "happy", "gender": "male", "text": "a01"}),
    ("16b10Wb.wav", {"speaker": "16", "emotion": "angry", "gender": "female", "text": "b10"}),
    ("08a02Lc.wav", {"emotion": "boredom"}),
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


@pytest.mark.integration
def test_real_emodb():
    if not (EMODB / "wav").is_dir():
        pytest.skip(f"EmoDB not found at {EMODB}")
    recs = scan_emodb(EMODB)
    assert len(recs) == 535 and len({r.speaker for r in recs}) == 10
    assert sum(r.emotion == "angry" for r in recs) == 127 and sum(r.emotion == "boredom" for r in recs) == 81
