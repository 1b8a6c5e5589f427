"""Corpus readers on fake corpora in their real layouts; labels; detection; several corpora; data index."""

import csv
import json
import warnings
from pathlib import Path

import pytest
import soundfile as sf

from escucha.cli import main
from escucha.corpora import (CORPORA, CorpusWarning, detect_corpus, get_reader, parse_cremad_name, parse_korean_name,
                             parse_nemo_name, parse_savee_name, parse_tess_name, read_label_csv, read_nemo_metadata,
                             scan_corpora, scan_corpus, scan_cremad, scan_folders, scan_korean, scan_nemo, scan_savee,
                             scan_tess)
from escucha.corpora import cremad, korean, nemo, savee
from escucha.errors import ConfigError, CorpusError
from escucha.labels import EMOTIONS, load_label_map, normalize_label, resolve_labels

from .conftest import REPO, make_fake_ravdess, synth_clip

SHARED = REPO.parent / "shared" / "data"


def clip(path: Path, *, sr: int = 16000, seconds: float = 0.2, seed: int = 0) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    sf.write(path, synth_clip(3, 1, sr=sr, seconds=seconds, seed=seed), sr)
    return path


def scan_quietly(fn, *args, **kw):
    """Call a reader; return (records, CorpusWarning messages)."""
    with warnings.catch_warnings(record=True) as w:
        warnings.simplefilter("always")
        recs = fn(*args, **kw)
    return recs, [str(x.message) for x in w if issubclass(x.category, CorpusWarning)]


# ------------------------------------------------------------------------------------ labels

@pytest.mark.parametrize("name, label", [
    ("angry", "angry"), ("Anger", "angry"), (" ANG ", "angry"), ("a", "angry"),
    ("fear", "fearful"), ("Fearful", "fearful"), ("FEA", "fearful"), ("afraid", "fearful"),
    ("happiness", "happy"), ("Joy", "happy"), ("hap", "happy"), ("h", "happy"),
    ("sadness", "sad"), ("sa", "sad"), ("disgusted", "disgust"), ("DIS", "disgust"),
    ("surprise", "surprised"), ("su", "surprised"), ("ps", "surprised"), ("Pleasant surprise", "surprised"),
    ("pleasant_surprised", "surprised"), ("Pleasant-Surprise", "surprised"),
    ("Neutral", "neutral"), ("neu", "neutral"), ("n", "neutral"), ("calm", "calm"),
])
def test_normalize_label_synonyms(name, label):
    assert normalize_label(name) == label


@pytest.mark.parametrize("name", ["boredom", "W", "wut", "", "excited", "angryy"])
def test_normalize_label_rejects_unknown_names(name):
    with pytest.raises(CorpusError, match="accepted: neutral, calm, happy, sad, angry, fearful, disgust, surprised"):
        normalize_label(name)


def test_label_map_comes_first_and_null_means_skip():
    m = {"Wut": "anger", "boredom": None, "a": "happy", "other": ""}
    assert normalize_label("wut", m) == "angry"           # keys compared like names, values normalised
    assert normalize_label("Boredom", m) == "" and normalize_label("OTHER", m) == ""
    assert normalize_label("a", m) == "happy"             # the user's map overrides a built-in synonym
    assert normalize_label("fear", m) == "fearful"        # built-ins still apply


def test_resolve_labels_lists_every_unknown_name_with_counts():
    names = ["angry", "boredom", "boredom", "Wut", "joy"]
    with pytest.raises(CorpusError) as e:
        resolve_labels(names, source="my.csv")
    msg = str(e.value)
    assert msg.startswith("my.csv: unknown emotion labels 'boredom' (2 files), 'Wut' (1 file); accepted: neutral,")
    assert "--label-map" in msg and "\n" not in msg
    assert resolve_labels(names, {"boredom": None, "wut": "angry"}) == {
        "angry": "angry", "boredom": "", "Wut": "angry", "joy": "happy"}


@pytest.mark.parametrize("text, message", [
    ('{"wut": "rage"}', "'wut' maps to 'rage', which is not an escucha label; accepted: neutral"),
    ('{"wut": 3}', "'wut' maps to 3"),
    ('["angry"]', "a label map is a JSON object"),
    ('{"wut": "angry",}', "not valid JSON"),
])
def test_bad_label_map_files(tmp_path, text, message):
    p = tmp_path / "map.json"
    p.write_text(text)
    with pytest.raises(ConfigError, match=message):
        load_label_map(p)


def test_label_map_file_not_found(tmp_path):
    with pytest.raises(ConfigError, match="label map not found"):
        load_label_map(tmp_path / "nope.json")


def test_every_reader_declares_labels_from_the_one_label_space():
    assert set(CORPORA) == {"ravdess", "crema-d", "emodb", "savee", "tess", "nemo", "korean", "folders"}
    for r in CORPORA.values():
        assert r.labels and set(r.labels) <= set(EMOTIONS), r.name
    assert "calm" in CORPORA["ravdess"].labels and not any("calm" in r.labels for n, r in CORPORA.items()
                                                            if n not in ("ravdess", "folders"))
    assert "surprised" not in CORPORA["emodb"].labels and "surprised" not in CORPORA["crema-d"].labels
    assert "disgust" not in CORPORA["nemo"].labels and set(CORPORA["nemo"].labels) == set(nemo.NEMO_EMOTIONS.values())
    assert set(CORPORA["korean"].labels) == set(korean.BLOCKS) == {"neutral", "happy", "sad", "angry"}
    # the corpora's own code tables agree with the shared synonyms
    for code, label in {**savee.SAVEE_EMOTIONS, **cremad.CREMAD_EMOTIONS, **nemo.NEMO_EMOTIONS}.items():
        assert normalize_label(code) == label


# ------------------------------------------------------------------------------------- SAVEE

@pytest.mark.parametrize("path, expected", [
    ("ALL/DC_a01.wav", ("DC", "angry", 1)),
    ("ALL/KL_sa15.flac", ("KL", "sad", 15)),
    ("ALL/JE_su01.wav", ("JE", "surprised", 1)),
    ("ALL/JK_n30.wav", ("JK", "neutral", 30)),
    ("ALL/dc_F02.wav", ("DC", "fearful", 2)),
    ("AudioData/JK/d07.wav", ("JK", "disgust", 7)),
    ("AudioData/KL/h12.wav", ("KL", "happy", 12)),
])
def test_parse_savee(path, expected):
    f = parse_savee_name(path)
    assert (f["speaker"], f["emotion"], f["sentence"], f["gender"]) == (*expected, "male")


@pytest.mark.parametrize("path, problem", [
    ("ALL/XY_a01.wav", "not a SAVEE name"),
    ("ALL/DC_b01.wav", "not a SAVEE name"),
    ("ALL/DC_a16.wav", "sentence 16 is outside 01-15"),
    ("ALL/DC_n31.wav", "sentence 31 is outside 01-30"),
    ("AudioData/other/a01.wav", "not a SAVEE name"),
    ("ALL/a01.wav", "not a SAVEE name"),
])
def test_parse_savee_rejects(path, problem):
    with pytest.raises(CorpusError, match=problem):
        parse_savee_name(path)


def make_fake_savee(root: Path, *, layout="flat", sr=16000, ext="flac", speakers=savee.SPEAKERS, n=2) -> Path:
    for spk in speakers:
        for code in savee.SAVEE_EMOTIONS:
            for i in range(1, n + 1):
                name = f"ALL/{spk}_{code}{i:02d}.{ext}" if layout == "flat" else f"AudioData/{spk}/{code}{i:02d}.{ext}"
                clip(root / name, sr=sr)
    return root


def test_savee_flat_layout_like_the_shared_copy(tmp_path):
    make_fake_savee(tmp_path)
    clip(tmp_path / "ALL" / "DC_x01.flac")
    (tmp_path / "MANIFEST.csv").write_text("file,sample_rate\n")
    (tmp_path / "README.md").write_text("# SAVEE\n")
    recs, msgs = scan_quietly(scan_savee, tmp_path)
    assert len(recs) == 4 * 7 * 2
    assert {r.speaker for r in recs} == {"DC", "JE", "JK", "KL"} and {r.gender for r in recs} == {"male"}
    assert {r.emotion for r in recs} == set(savee.LABELS) and {r.corpus for r in recs} == {"savee"}
    r = next(r for r in recs if r.name == "JK_sa02.flac")
    assert (r.emotion, r.statement, r.sample_rate) == ("sad", "sa02", 16000)
    assert len(msgs) == 1 and "skipped 1 of 57 audio files" in msgs[0] and "DC_x01.flac" in msgs[0]
    assert detect_corpus(tmp_path).name == "savee"
    with pytest.raises(CorpusError, match="DC_x01.flac: not a SAVEE name"):
        scan_savee(tmp_path, strict=True)


def test_savee_surrey_layout_at_44k(tmp_path):
    make_fake_savee(tmp_path, layout="surrey", sr=44100, ext="wav", speakers=("DC", "KL"), n=1)
    recs = scan_corpus(tmp_path)
    assert len(recs) == 14 and {r.speaker for r in recs} == {"DC", "KL"} and {r.sample_rate for r in recs} == {44100}
    assert sorted(r.emotion for r in recs if r.speaker == "DC") == sorted(savee.LABELS)


def test_savee_clip_in_both_layouts_is_kept_once(tmp_path):
    make_fake_savee(tmp_path, speakers=("JE",), n=1)
    make_fake_savee(tmp_path, layout="surrey", ext="wav", speakers=("JE",), n=1)
    recs, msgs = scan_quietly(scan_savee, tmp_path)
    assert len(recs) == 7 and len({(r.emotion, r.statement) for r in recs}) == 7
    assert "7 second copies of a clip" in msgs[0]


# -------------------------------------------------------------------------------------- TESS

@pytest.mark.parametrize("path, expected", [
    ("OAF_angry/OAF_back_angry.wav", ("OAF", "back", "angry")),
    ("YAF_pleasant_surprised/YAF_dog_ps.wav", ("YAF", "dog", "surprised")),
    ("OAF_Pleasant_surprise/OAF_bite_ps.wav", ("OAF", "bite", "surprised")),
    ("YAF_Fear/YAF_back_fear.wav", ("YAF", "back", "fearful")),
    ("YAF_neutral/YAF_youth_neutral.wav", ("YAF", "youth", "neutral")),
    ("OAF_Sad/oaf_Chair_SAD.wav", ("OAF", "chair", "sad")),
    ("flat/YAF_mess_disgust.wav", ("YAF", "mess", "disgust")),
])
def test_parse_tess(path, expected):
    f = parse_tess_name(path)
    assert (f["speaker"], f["word"], f["emotion"], f["gender"]) == (*expected, "female")


@pytest.mark.parametrize("path, problem", [
    ("OAF_angry/OAF_back.wav", "not a TESS name"),
    ("OAF_angry/XAF_back_angry.wav", "not a TESS name"),
    ("OAF_angry/OAF_back_bored.wav", "'bored' is not a TESS emotion"),
    ("OAF_angry/OAF_back_sad.wav", "the folder OAF_angry disagrees with the file name"),
    ("YAF_angry/OAF_back_angry.wav", "the folder YAF_angry disagrees"),
])
def test_parse_tess_rejects(path, problem):
    with pytest.raises(CorpusError, match=problem):
        parse_tess_name(path)


TESS_FOLDERS = {"OAF": ["OAF_angry", "OAF_disgust", "OAF_Fear", "OAF_happy", "OAF_neutral", "OAF_Pleasant_surprise",
                        "OAF_Sad"],
                "YAF": ["YAF_angry", "YAF_disgust", "YAF_fear", "YAF_happy", "YAF_neutral", "YAF_pleasant_surprised",
                        "YAF_sad"]}


def make_fake_tess(root: Path, words=("back", "youth")) -> Path:
    for spk, dirs in TESS_FOLDERS.items():
        for d in dirs:
            emo = d.split("_", 1)[1].lower()
            emo = "ps" if "surprise" in emo else emo
            for w in words:
                clip(root / d / f"{spk}_{w}_{emo}.wav", sr=24414)
    return root


def test_tess_in_its_circulating_layout(tmp_path):
    root = make_fake_tess(tmp_path / "TESS Toronto emotional speech set data")
    clip(root / "OAF_angry" / "OAF_bite_sad.wav")           # folder and name disagree: skipped, not guessed
    make_fake_tess(root / "TESS Toronto emotional speech set data", words=("back",))   # a nested second copy
    recs, msgs = scan_quietly(scan_corpus, root)
    assert len(recs) == 2 * 7 * 2
    assert {r.speaker for r in recs} == {"OAF", "YAF"} and {r.gender for r in recs} == {"female"}
    assert {r.emotion for r in recs} == set(CORPORA["tess"].labels) and {r.corpus for r in recs} == {"tess"}
    assert sum(r.emotion == "surprised" for r in recs) == 4 and {r.statement for r in recs} == {"back", "youth"}
    assert "skipped 15 of 43" in msgs[0] and "14 second copies" in msgs[0] and "disagrees" in msgs[0]


def test_tess_label_map_extends_its_emotion_names(tmp_path):
    clip(tmp_path / "YAF_bored" / "YAF_back_bored.wav")
    clip(tmp_path / "YAF_angry" / "YAF_back_angry.wav")
    recs, msgs = scan_quietly(scan_tess, tmp_path)
    assert [r.emotion for r in recs] == ["angry"] and "'bored' is not a TESS emotion" in msgs[0]
    recs, msgs = scan_quietly(scan_tess, tmp_path, label_map={"bored": None})
    assert [r.emotion for r in recs] == ["angry"] and "1 clips whose emotion the label map skips" in msgs[0]


# ----------------------------------------------------------------------------------- CREMA-D

@pytest.mark.parametrize("name, expected", [
    ("1001_DFA_ANG_XX.wav", ("1001", "Don't forget a jacket", "angry", "unspecified")),
    ("1091_TSI_SAD_LO.wav", ("1091", "The surface is slick", "sad", "low")),
    ("1045_IEO_HAP_HI.flac", ("1045", "It's eleven o'clock", "happy", "high")),
    ("1002_IWW_FEA_MD.wav", ("1002", "I wonder what this is about", "fearful", "medium")),
])
def test_parse_cremad(name, expected):
    f = parse_cremad_name(name)
    assert (f["actor"], f["sentence"], f["emotion"], f["level"]) == expected


@pytest.mark.parametrize("name, problem", [
    ("1092_DFA_ANG_XX.wav", "actor 1092 is outside 1001-1091"),
    ("1001_XYZ_ANG_XX.wav", "sentence code XYZ"),
    ("1001_DFA_SUR_XX.wav", "emotion code SUR"),
    ("1001_DFA_ANG_ZZ.wav", "level code ZZ"),
    ("1001_DFA_ANG.wav", "not a CREMA-D name"),
])
def test_parse_cremad_rejects(name, problem):
    with pytest.raises(CorpusError, match=problem):
        parse_cremad_name(name)


def make_fake_cremad(root: Path, *, demographics=True) -> Path:
    for actor in (1001, 1002, 1091):
        for emo in cremad.CREMAD_EMOTIONS:
            clip(root / "AudioWAV" / f"{actor}_DFA_{emo}_XX.wav")
        clip(root / "AudioWAV" / f"{actor}_IEO_ANG_HI.wav")
    if demographics:
        (root / "VideoDemographics.csv").write_text(
            "ActorID,Age,Sex,Race,Ethnicity\n1001,51,Male,Caucasian,Not Hispanic\n"
            "1002,21,Female,Caucasian,Not Hispanic\n")
    return root


def test_cremad_with_demographics(tmp_path):
    make_fake_cremad(tmp_path)
    sf.write(tmp_path / "AudioWAV" / "1076_MTI_SAD_XX.wav", synth_clip(1, 1)[:0], 16000)  # an empty clip
    recs, msgs = scan_quietly(scan_corpus, tmp_path)
    assert len(recs) == 3 * 7 and {r.corpus for r in recs} == {"crema-d"}
    genders = {r.speaker: r.gender for r in recs}
    assert genders == {"1001": "male", "1002": "female", "1091": ""}   # 1091 is not in this demographics file
    assert {r.emotion for r in recs} == set(cremad.LABELS)
    assert {r.intensity for r in recs} == {"unspecified", "high"}
    assert "skipped 1 of 22" in msgs[0] and "audio is empty" in msgs[0]
    # pointed at AudioWAV/ itself, the demographics beside it are still found
    assert {r.gender for r in scan_quietly(scan_cremad, tmp_path / "AudioWAV")[0]} == {"male", "female", ""}


def test_cremad_without_demographics_has_empty_gender(tmp_path):
    make_fake_cremad(tmp_path, demographics=False)
    recs = scan_cremad(tmp_path)
    assert len(recs) == 21 and {r.gender for r in recs} == {""}
    (tmp_path / "VideoDemographics.csv").write_text("Actor,Gender\n1001,Male\n")
    with pytest.warns(CorpusWarning, match="expected columns ActorID and Sex"):
        assert {r.gender for r in scan_cremad(tmp_path)} == {""}


# -------------------------------------------------------------------------------------- nEMO

@pytest.mark.parametrize("name, expected", [
    ("WR0_surprised_64.wav", ("WR0", "surprised", 64)),
    ("samples/EB0_anger_1.ogg", ("EB0", "angry", 1)),
    ("KD0_fear_12.flac", ("KD0", "fearful", 12)),
    ("MK0_happiness_90.wav", ("MK0", "happy", 90)),
    ("SM0_sadness_7.wav", ("SM0", "sad", 7)),
    ("tp0_Neutral_3.wav", ("TP0", "neutral", 3)),
])
def test_parse_nemo(name, expected):
    f = parse_nemo_name(name)
    assert (f["speaker"], f["emotion"], f["number"]) == expected


@pytest.mark.parametrize("name, problem", [
    ("WR0_disgust_1.wav", "not an nEMO name"),
    ("WR0_surprised.wav", "not an nEMO name"),
    ("WR0-anger-1.wav", "not an nEMO name"),
    ("XY0_anger_1.wav", "speaker XY0 is not an nEMO speaker"),
])
def test_parse_nemo_rejects(name, problem):
    with pytest.raises(CorpusError, match=problem):
        parse_nemo_name(name)


NEMO_GENDERS = {"EB0": "female", "WR0": "male"}
NEMO_TEXTS = {1: "Lubię czytać przed snem.", 2: "Ucho wykrywa dźwięki o różnej częstotliwości."}


def make_fake_nemo(root: Path, *, speakers=tuple(NEMO_GENDERS), ext="wav", sr=24000, tsv=True) -> Path:
    """``samples/SPK_emotion_n.<ext>`` and, with ``tsv``, a ``data.tsv`` like the corpus's own: its
    ``file_id`` names the .wav and ``speaker_id`` is padded with spaces."""
    rows = ["file_id\temotion\traw_text\tnormalized_text\tspeaker_id\tgender\tage"]
    for spk in speakers:
        for word in nemo.NEMO_EMOTIONS:
            for n, text in NEMO_TEXTS.items():
                clip(root / "samples" / f"{spk}_{word}_{n}.{ext}", sr=sr)
                rows.append(f"{spk}_{word}_{n}.wav\t{word}\t{text}\t{text.lower().rstrip('.')}\t        {spk}\t"
                            f"{NEMO_GENDERS.get(spk, 'female')}\t24")
    if tsv:
        (root / "data.tsv").write_text("\n".join(rows) + "\n", encoding="utf-8")
    return root


def test_nemo_wav_layout_with_data_tsv(tmp_path):
    make_fake_nemo(tmp_path)
    (tmp_path / "README.md").write_text("# nEMO\n")
    clip(tmp_path / "samples" / "WR0_anger_3.wav")            # data.tsv says fear: skipped, not guessed
    with open(tmp_path / "data.tsv", "a", encoding="utf-8") as f:
        f.write("WR0_anger_3.wav\tfear\tTak.\ttak\t        WR0\tmale\t23\n")
    clip(tmp_path / "samples" / "notes.wav")
    recs, msgs = scan_quietly(scan_corpus, tmp_path)
    assert len(recs) == 2 * 6 * 2 and len({r.path for r in recs}) == len(recs)
    assert {r.corpus for r in recs} == {"nemo"} and {r.sample_rate for r in recs} == {24000}
    assert {r.speaker: r.gender for r in recs} == NEMO_GENDERS
    assert {r.emotion for r in recs} == set(nemo.LABELS)
    assert sum(r.emotion == "happy" for r in recs) == 4
    r = next(r for r in recs if r.name == "EB0_sadness_2.wav")
    assert (r.speaker, r.gender, r.emotion, r.text) == ("EB0", "female", "sad", NEMO_TEXTS[2])
    assert "skipped 2 of 26" in msgs[0] and "notes.wav: not an nEMO name" in msgs[0]
    assert "data.tsv gives emotion fear, the file name anger" in msgs[0]
    assert detect_corpus(tmp_path).name == "nemo" and detect_corpus(tmp_path / "samples").name == "nemo"
    # pointed at samples/ itself, the data.tsv beside it is still found
    assert {r.gender for r in scan_quietly(scan_nemo, tmp_path / "samples")[0]} == {"male", "female"}
    with pytest.raises(CorpusError, match="WR0_anger_3.wav: data.tsv gives emotion fear"):
        scan_nemo(tmp_path, strict=True)


def test_nemo_wav_beside_its_ogg_is_one_clip_the_wav(tmp_path):
    make_fake_nemo(tmp_path, ext="ogg", sr=16000)                       # both speakers as .ogg, data.tsv
    make_fake_nemo(tmp_path, speakers=("WR0",), tsv=False)             # WR0 also as the original .wav
    recs, msgs = scan_quietly(scan_nemo, tmp_path)
    assert len(recs) == 2 * 12 and len({(r.speaker, r.emotion, r.text) for r in recs}) == 24
    assert {r.name.rsplit(".", 1)[1] for r in recs if r.speaker == "WR0"} == {"wav"}
    assert {r.name.rsplit(".", 1)[1] for r in recs if r.speaker == "EB0"} == {"ogg"}
    assert {r.sample_rate for r in recs if r.speaker == "WR0"} == {24000}
    assert {r.gender for r in recs if r.speaker == "EB0"} == {"female"}    # the .ogg finds its .wav's row
    assert "skipped 12 of 36" in msgs[0] and "12 second copies of a clip" in msgs[0]
    assert "WR0_anger_1.ogg: the same clip as" in msgs[0] and "WR0_anger_1.wav" in msgs[0]
    with pytest.raises(CorpusError, match=r"\.ogg: the same clip as .*\.wav"):
        scan_nemo(tmp_path, strict=True)


def test_nemo_without_data_tsv_has_empty_gender_and_text(tmp_path):
    make_fake_nemo(tmp_path, speakers=("WR0",), tsv=False)
    recs = scan_nemo(tmp_path)
    assert len(recs) == 12 and {r.gender for r in recs} == {""} and {r.text for r in recs} == {""}
    (tmp_path / "data.tsv").write_text("name,sex\nWR0_anger_1.wav,m\n")
    with pytest.warns(CorpusWarning, match="expected the nEMO columns file_id"):
        assert {r.gender for r in scan_nemo(tmp_path)} == {""}
    with pytest.raises(CorpusError, match="expected the nEMO columns"):
        scan_nemo(tmp_path, strict=True)


def test_read_nemo_metadata_strips_the_padding(tmp_path):
    make_fake_nemo(tmp_path, speakers=("WR0",))
    rows = read_nemo_metadata(tmp_path / "data.tsv")
    assert len(rows) == 12
    assert rows["WR0_happiness_1"] == {"speaker": "WR0", "word": "happiness", "gender": "male", "text": NEMO_TEXTS[1]}


# ---------------------------------------------------------------------- emotiontts (Korean)

@pytest.mark.parametrize("path, expected", [
    ("emotional-to-emotional/neo/wav/neo00001.wav", ("neo", "emotional-to-emotional", 1, "neutral")),
    ("emotional-to-emotional/neo/wav/neo00100.ogg", ("neo", "emotional-to-emotional", 100, "neutral")),
    ("plain-to-emotional/ema/wav/ema00101.wav", ("ema", "plain-to-emotional", 101, "happy")),
    # the corpus README says angry for 00201-00300 and sad for 00301-00400; its transcripts say otherwise
    ("emotional-to-emotional/neo/wav/neo00203.ogg", ("neo", "emotional-to-emotional", 203, "sad")),
    ("plain-to-emotional/emh/wav/emh00300.wav", ("emh", "plain-to-emotional", 300, "sad")),
    ("emotional-to-emotional/nek/wav/nek00305.wav", ("nek", "emotional-to-emotional", 305, "angry")),
    ("flat/NEA00400.wav", ("nea", "emotional-to-emotional", 400, "angry")),
])
def test_parse_korean(path, expected):
    f = parse_korean_name(path)
    assert (f["speaker"], f["set"], f["number"], f["emotion"]) == expected


@pytest.mark.parametrize("path, problem", [
    ("neo/wav/neo00000.wav", "utterance 00000 is outside 00001-00400"),
    ("neo/wav/neo00401.wav", "utterance 00401 is outside 00001-00400"),
    ("abc/wav/abc00001.wav", "speaker abc is not an emotiontts speaker"),
    ("neo/wav/neo0001.wav", "not an emotiontts name"),
    ("neo/wav/neo00001_2.wav", "not an emotiontts name"),
    ("neb/wav/neo00001.wav", "the folder neb names another speaker"),
])
def test_parse_korean_rejects(path, problem):
    with pytest.raises(CorpusError, match=problem):
        parse_korean_name(path)


KOREAN_NUMBERS = (1, 2, 101, 102, 203, 204, 305, 306)


def make_fake_korean(root: Path, *, speakers=("ema", "emb", "nea", "neo"), numbers=KOREAN_NUMBERS, ext="wav",
                     sr=22050) -> Path:
    """``<set>/<speaker>/wav/<speaker>NNNNN.<ext>``, as distributed."""
    for spk in speakers:
        for n in numbers:
            clip(root / korean.SPEAKERS[spk] / spk / "wav" / f"{spk}{n:05d}.{ext}", sr=sr)
    return root


def test_korean_in_its_distributed_layout(tmp_path):
    make_fake_korean(tmp_path)
    (tmp_path / "README.md").write_text("# emotiontts\n")
    clip(tmp_path / "plain-to-emotional" / "ema" / "wav" / "ema00401.wav")
    recs, msgs = scan_quietly(scan_corpus, tmp_path)
    assert len(recs) == 4 * 8 and len({(r.speaker, r.statement) for r in recs}) == 32
    assert {r.corpus for r in recs} == {"korean"} and {r.sample_rate for r in recs} == {22050}
    assert {r.speaker for r in recs} == {"ema", "emb", "nea", "neo"} and {r.gender for r in recs} == {""}
    label = {(r.speaker, r.statement): r.emotion for r in recs}
    assert label["neo", "00203"] == "sad" and label["neo", "00305"] == "angry"     # not the README's order
    assert label["ema", "00204"] == "sad" and label["ema", "00306"] == "angry"
    assert label["nea", "00001"] == "neutral" and label["emb", "00102"] == "happy"
    assert {e: sum(r.emotion == e for r in recs) for e in korean.LABELS} == {e: 8 for e in korean.LABELS}
    assert "skipped 1 of 33" in msgs[0] and "utterance 00401 is outside" in msgs[0]
    assert detect_corpus(tmp_path).name == "korean"
    assert detect_corpus(tmp_path / "plain-to-emotional").name == "korean"
    assert len(scan_corpus(tmp_path / "emotional-to-emotional" / "neo", corpus="emotiontts")) == 8
    with pytest.raises(CorpusError, match="ema00401.wav: utterance 00401"):
        scan_korean(tmp_path, strict=True)


def test_korean_wav_beside_its_ogg_is_one_clip_the_wav(tmp_path):
    make_fake_korean(tmp_path, speakers=("neo",))
    make_fake_korean(tmp_path, speakers=("neo", "nek"), ext="ogg", sr=16000)
    recs, msgs = scan_quietly(scan_korean, tmp_path)
    assert len(recs) == 16 and len({(r.speaker, r.statement) for r in recs}) == 16
    assert {r.name.rsplit(".", 1)[1] for r in recs if r.speaker == "neo"} == {"wav"}
    assert {r.name.rsplit(".", 1)[1] for r in recs if r.speaker == "nek"} == {"ogg"}
    assert "skipped 8 of 24" in msgs[0] and "8 second copies of a clip" in msgs[0]


# ---------------------------------------------------------------------------- your own data

def test_folder_per_label_with_optional_speaker_folders(tmp_path):
    root = tmp_path / "my_clips"
    clip(root / "angry" / "a.wav")
    clip(root / "Neutral" / "b.flac")
    clip(root / "Pleasant Surprise" / "c.wav")
    clip(root / "spk1" / "Joy" / "d.ogg")
    clip(root / "spk1" / "FEA" / "e.mp3")
    clip(root / "site2" / "spk7" / "sadness" / "f.wav")
    clip(root / "stray.wav")
    recs, msgs = scan_quietly(scan_corpus, root)
    got = {r.name: (r.emotion, r.speaker, r.corpus, r.gender) for r in recs}
    assert got == {"a.wav": ("angry", "", "my_clips", ""), "b.flac": ("neutral", "", "my_clips", ""),
                   "c.wav": ("surprised", "", "my_clips", ""), "d.ogg": ("happy", "spk1", "my_clips", ""),
                   "e.mp3": ("fearful", "spk1", "my_clips", ""), "f.wav": ("sad", "site2/spk7", "my_clips", "")}
    assert "skipped 1 of 7" in msgs[0] and "stray.wav: not inside a label folder" in msgs[0]
    assert all(r.duration > 0.15 for r in recs)
    assert {r.corpus for r in scan_quietly(scan_folders, root, corpus="mine")[0]} == {"mine"}


def test_folder_per_label_unknown_labels_are_one_clear_error(tmp_path):
    clip(tmp_path / "angry" / "a.wav")
    clip(tmp_path / "happy" / "b.wav")
    clip(tmp_path / "boredom" / "c.wav")
    clip(tmp_path / "boredom" / "d.wav")
    clip(tmp_path / "Wut" / "e.wav")
    with pytest.raises(CorpusError) as e:
        scan_corpus(tmp_path)
    msg = str(e.value)
    assert "unknown emotion labels 'boredom' (2 files), 'Wut' (1 file)" in msg
    assert "accepted: neutral, calm, happy, sad, angry, fearful, disgust, surprised" in msg and "--label-map" in msg
    recs, msgs = scan_quietly(scan_corpus, tmp_path, label_map={"wut": "angry", "boredom": None})
    assert sorted(r.emotion for r in recs) == ["angry", "angry", "happy"]
    assert "skipped 2 of 5" in msgs[0] and "label map skips (boredom)" in msgs[0]


def test_label_map_lets_detection_see_a_folder_of_foreign_names(tmp_path):
    for name in ("wut", "freude", "trauer"):
        clip(tmp_path / name / "x.wav")
    with pytest.raises(CorpusError, match="not a corpus layout escucha recognises"):
        scan_corpus(tmp_path)
    m = {"wut": "angry", "freude": "happy", "trauer": "sad"}
    assert sorted(r.emotion for r in scan_corpus(tmp_path, label_map=m)) == ["angry", "happy", "sad"]


def test_label_csv_with_relative_paths_speakers_and_corpora(tmp_path):
    clip(tmp_path / "audio" / "one.wav")
    clip(tmp_path / "audio" / "two.flac")
    clip(tmp_path / "audio" / "three.wav")
    csv_path = tmp_path / "labels.csv"
    csv_path.write_text("File,Label,Speaker,Corpus,Gender\n"
                        "audio/one.wav,Anger,s1,calls,F\n"
                        "audio/two.flac,joy,s2,,m\n"
                        "audio/three.wav,ps,s1,calls,\n"
                        "audio/missing.wav,sad,s3,calls,\n"
                        "audio/one.wav,angry,s1,calls,\n")
    recs, msgs = scan_quietly(scan_corpus, csv_path)
    got = [(r.name, r.emotion, r.speaker, r.corpus, r.gender) for r in recs]
    assert got == [("one.wav", "angry", "s1", "calls", "female"), ("three.wav", "surprised", "s1", "calls", ""),
                   ("two.flac", "happy", "s2", tmp_path.name, "male")]
    assert recs[0].path == str((tmp_path / "audio" / "one.wav").resolve())
    assert "skipped 2 of 5" in msgs[0] and "missing.wav: no such file" in msgs[0] and "listed on line 2" in msgs[0]
    with pytest.raises(CorpusError, match=r"labels.csv:5: .*missing.wav: no such file"):
        read_label_csv(csv_path, strict=True)


@pytest.mark.parametrize("text, message", [
    ("file,label\na.wav,boredom\nb.wav,boredom\nc.wav,angry\n", "unknown emotion label 'boredom' (2 files)"),
    ("file,speaker\na.wav,s1\n", "neither an escucha manifest"),
    ("file,label\n", "manifest has no rows"),
])
def test_label_csv_errors(tmp_path, text, message):
    p = tmp_path / "labels.csv"
    p.write_text(text)
    with pytest.raises(CorpusError, match=message.replace("(", r"\(").replace(")", r"\)")):
        scan_corpus(p)


# ---------------------------------------------------------------------- detection, registry

def test_each_fake_corpus_is_detected_and_corpus_forces_a_reader(tmp_path):
    layouts = {"ravdess": lambda p: make_fake_ravdess(p, actors=(1,), emotions=(1, 5), reps=(1,)),
               "savee": lambda p: make_fake_savee(p, speakers=("DC",), n=1),
               "tess": lambda p: make_fake_tess(p, words=("back",)),
               "crema-d": make_fake_cremad,
               "nemo": lambda p: make_fake_nemo(p, speakers=("WR0",)),
               "korean": lambda p: make_fake_korean(p, speakers=("neo",)),
               "folders": lambda p: clip(p / "angry" / "x.wav")}
    for name, make in layouts.items():
        make(tmp_path / name)
        assert detect_corpus(tmp_path / name).name == name
    (tmp_path / "emodb" / "wav").mkdir(parents=True)
    clip(tmp_path / "emodb" / "wav" / "03a01Fa.wav")
    assert detect_corpus(tmp_path / "emodb").name == "emodb"
    # forcing a reader on the wrong corpus reads nothing usable, loudly
    with pytest.raises(CorpusError, match="none of the 7 audio files is a usable EmoDB clip"), pytest.warns(CorpusWarning):
        scan_corpus(tmp_path / "savee", corpus="emodb")
    assert len(scan_corpus(tmp_path / "crema-d", corpus="CremaD")) == 21
    with pytest.raises(CorpusError, match="unknown corpus 'iemocap'; known: ravdess, crema-d, emodb, savee, tess"):
        get_reader("iemocap")
    with pytest.raises(CorpusError, match="holds several corpora in sub-folders: crema-d/ \\(crema-d\\), emodb/"):
        scan_corpus(tmp_path)


def test_ambiguous_and_unrecognised_folders_are_clear_errors(tmp_path):
    for e in (1, 5):                      # RAVDESS clips sorted into label folders: two readers fit
        make_fake_ravdess(tmp_path / "amb", actors=(1,), emotions=(e,), reps=(1,), layout="flat")
    for p in list((tmp_path / "amb").glob("*.wav")):
        label = "neutral" if p.name.split("-")[2] == "01" else "angry"
        (tmp_path / "amb" / label).mkdir(exist_ok=True)
        p.rename(tmp_path / "amb" / label / p.name)
    with pytest.raises(CorpusError, match="fits several corpora \\(ravdess, folders\\); pass --corpus NAME"):
        scan_corpus(tmp_path / "amb")
    assert {r.corpus for r in scan_corpus(tmp_path / "amb", corpus="ravdess")} == {"ravdess"}
    assert {r.corpus for r in scan_corpus(tmp_path / "amb", corpus="folders")} == {"amb"}
    clip(tmp_path / "odd" / "recording.wav")
    with pytest.raises(CorpusError, match="odd: not a corpus layout escucha recognises \\(known: ravdess, .*\\); "
                                          "pass --corpus NAME"):
        scan_corpus(tmp_path / "odd")


# ------------------------------------------------------------------------ several corpora

def test_scan_corpora_keeps_speakers_of_different_corpora_apart(tmp_path):
    make_fake_ravdess(tmp_path / "ravdess", actors=(1, 2), emotions=(1, 5), reps=(1,))
    clip(tmp_path / "mine" / "a.wav")
    clip(tmp_path / "mine" / "b.wav")
    (tmp_path / "mine" / "labels.csv").write_text("file,label,speaker\na.wav,angry,01\nb.wav,sad,02\n")
    make_fake_savee(tmp_path / "savee", speakers=("DC",), n=1)
    recs = scan_corpora([tmp_path / "ravdess", tmp_path / "mine" / "labels.csv", tmp_path / "savee"])
    assert [r.corpus for r in recs] == ["ravdess"] * 4 + ["mine"] * 2 + ["savee"] * 7
    assert {r.speaker for r in recs} == {"01", "02", "DC"}                   # raw ids collide ...
    assert {r.speaker_key for r in recs} == {"ravdess:01", "ravdess:02", "mine:01", "mine:02", "savee:DC"}
    with pytest.raises(CorpusError, match="is read from both .*ravdess and .*Actor_01; give each corpus once"):
        scan_corpora([tmp_path / "ravdess", tmp_path / "ravdess" / "Actor_01"])
    assert len(scan_corpora(tmp_path / "savee", corpus="savee")) == 7


# ----------------------------------------------------------------------- escucha data index

def test_data_index_several_corpora_summary_and_no_overwrite(tmp_path, capsys):
    make_fake_savee(tmp_path / "savee", speakers=("DC", "JE"), n=1)
    make_fake_cremad(tmp_path / "cremad")
    clip(tmp_path / "mine" / "Wut" / "x.mp3")
    clip(tmp_path / "mine" / "happy" / "y.ogg")
    (tmp_path / "map.json").write_text(json.dumps({"Wut": "angry"}))
    out = tmp_path / "m.csv"
    args = ["data", "index", str(tmp_path / "savee"), str(tmp_path / "cremad"), str(tmp_path / "mine"),
            "-o", str(out), "--label-map", str(tmp_path / "map.json")]
    assert main(args) == 0
    err = capsys.readouterr().err
    # the clips of "mine" have no speaker id: not counted as a speaker, said instead
    assert f"wrote {out}: 37 clips, 5 speakers (2 clips without a speaker id)" in err and "3 corpora" in err
    lines = {ln.split()[0]: ln.split() for ln in err.splitlines()[1:]}
    assert lines["corpus"] == ["corpus", "clips", "speakers", "min", "neutral", "happy", "sad", "angry", "fearful",
                               "disgust", "surprised"]
    assert lines["savee"][1:3] == ["14", "2"] and lines["crema-d"][1:3] == ["21", "3"]
    assert lines["crema-d"][-1] == "-" and lines["mine"][4:8] == ["-", "1", "-", "1"]
    assert lines["mine"][1:3] == ["2", "0"] and lines["all"][1:3] == ["37", "5"]
    rows = list(csv.DictReader(open(out)))
    assert len(rows) == 37 and {r["corpus"] for r in rows} == {"savee", "crema-d", "mine"}
    assert {r["path"].rsplit(".", 1)[1] for r in rows if r["corpus"] == "mine"} == {"mp3", "ogg"}
    before = out.read_bytes()
    assert main(["data", "index", str(tmp_path / "savee"), "-o", str(out)]) == 2
    err = capsys.readouterr().err
    assert err == f"escucha: error: {out}: already exists; pass --force to replace it\n"
    assert out.read_bytes() == before
    # a mistyped input is said first, not the output that exists
    assert main(["data", "index", str(tmp_path / "savey"), "-o", str(out)]) == 2
    assert capsys.readouterr().err == f"escucha: error: {tmp_path / 'savey'}: no such file or folder\n"
    assert main(["data", "index", str(tmp_path / "savee"), "-o", str(out), "--force", "--corpus", "savee"]) == 0
    assert len(list(csv.DictReader(open(out)))) == 14


@pytest.mark.parametrize("extra, message", [
    (["--corpus", "iemocap"], "unknown corpus 'iemocap'"),
    (["--label-map", "/no/such/map.json"], "label map not found"),
])
def test_data_index_bad_options_are_one_line(tmp_path, capsys, extra, message):
    make_fake_savee(tmp_path / "savee", speakers=("DC",), n=1)
    assert main(["data", "index", str(tmp_path / "savee"), "-o", str(tmp_path / "m.csv"), *extra]) == 2
    err = capsys.readouterr().err
    assert err.startswith("escucha: error: ") and message in err and err.count("\n") == 1
    assert not (tmp_path / "m.csv").exists()


# ------------------------------------------------------------------------- the real corpora

@pytest.mark.integration
def test_real_shared_corpora():
    roots = {name: SHARED / name for name in ("savee", "emodb", "ravdess")}
    missing = [str(p) for p in roots.values() if not p.is_dir()]
    if missing:
        pytest.skip(f"shared corpora not found: {', '.join(missing)}")
    expected = {
        "savee": (480, {"DC", "JE", "JK", "KL"}, set(savee.LABELS)),
        "emodb": (535 - 81, {"03", "08", "09", "10", "11", "12", "13", "14", "15", "16"},
                  {"neutral", "happy", "sad", "angry", "fearful", "disgust"}),
        "ravdess": (1200, {f"{a:02d}" for a in range(1, 21)}, set(EMOTIONS)),
    }
    with pytest.warns(CorpusWarning, match="81 boredom"):
        recs = scan_corpora(list(roots.values()))
    for name, (n, speakers, labels) in expected.items():
        mine = [r for r in recs if r.corpus == name]
        assert len(mine) == n, name
        assert {r.speaker for r in mine} == speakers, name
        assert {r.emotion for r in mine} == labels == set(CORPORA[name].labels), name
        assert detect_corpus(roots[name]).name == name
    assert {r.gender for r in recs if r.corpus == "savee"} == {"male"}
    assert sum(r.emotion == "neutral" for r in recs if r.corpus == "savee") == 120
    assert {r.sample_rate for r in recs if r.corpus == "savee"} == {16000}
    assert len({r.speaker_key for r in recs}) == 4 + 10 + 20      # "03" is both a RAVDESS and an EmoDB speaker


@pytest.mark.integration
def test_real_shared_nemo_and_korean():
    roots = {name: SHARED / name for name in ("nemo", "korean")}
    missing = [str(p) for p in roots.values() if not p.is_dir()]
    if missing:
        pytest.skip(f"shared corpora not found: {', '.join(missing)}")
    with warnings.catch_warnings():
        warnings.simplefilter("error", CorpusWarning)        # every file of both is a clean clip
        recs = scan_corpora(list(roots.values()))
    ne = [r for r in recs if r.corpus == "nemo"]
    assert len(ne) == 4481 and len({r.path for r in ne}) == 4481
    assert {r.speaker for r in ne} == set(nemo.SPEAKERS)
    counts = {e: sum(r.emotion == e for r in ne) for e in nemo.LABELS}
    assert counts == {"neutral": 809, "happy": 749, "sad": 769, "angry": 749, "fearful": 736, "surprised": 669}
    genders = {r.speaker: r.gender for r in ne}
    assert sorted(genders.values()).count("female") == 4 and sorted(genders.values()).count("male") == 5
    assert all(r.text for r in ne) and {r.sample_rate for r in ne} == {16000}
    assert next(r.text for r in ne if r.name == "WR0_surprised_64.ogg").startswith("Ucho wykrywa")
    ko = [r for r in recs if r.corpus == "korean"]
    assert len(ko) == 300 and len({r.path for r in ko}) == 300
    assert {r.speaker for r in ko} == set(korean.SPEAKERS)
    assert {e: sum(r.emotion == e for r in ko) for e in korean.LABELS} == {e: 75 for e in korean.LABELS}
    label = {r.name: r.emotion for r in ko}
    assert label["neo00203.ogg"] == "sad" and label["neo00305.ogg"] == "angry"
    for name, root in roots.items():
        assert detect_corpus(root).name == name
    for name in ("ravdess", "emodb", "savee"):
        if (SHARED / name).is_dir():
            assert detect_corpus(SHARED / name).name == name
