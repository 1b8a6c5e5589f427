import numpy as np
import pytest
import torch

from escucha.corpora import scan_ravdess
from escucha.data import corpus_split, random_split, speaker_folds, speaker_split
from escucha.errors import ConfigError, ModelError
from escucha.evaluate.metrics import classification_report, confusion_matrix, macro_f1, uar
from escucha.models import count_parameters, create_model, list_models


@pytest.fixture(scope="module")
def recs(fake_ravdess):
    return scan_ravdess(fake_ravdess)


def test_speaker_folds_disjoint_complete_reproducible_balanced(recs):
    folds = speaker_folds(recs, k=3, seed=0)
    flat = [s for f in folds for s in f]
    assert sorted(flat) == sorted({r.speaker_key for r in recs}) and len(flat) == len(set(flat))
    assert folds == speaker_folds(recs, k=3, seed=0)
    assert folds != speaker_folds(recs, k=3, seed=1) or folds != speaker_folds(recs, k=3, seed=2)
    # 3 men + 3 women over 3 folds: one of each per fold
    for f in folds:
        assert sorted(int(s.split(':')[1]) % 2 for s in f) == [0, 1]


@pytest.mark.parametrize("fold", [0, 1, 2])
def test_speaker_split_keeps_speakers_apart(recs, fold):
    sp = speaker_split(recs, k=3, fold=fold, val_speakers=1, seed=0)
    sets = {name: {recs[i].speaker_key for i in getattr(sp, name)} for name in ("train", "val", "test")}
    assert not (sets["train"] & sets["test"]) and not (sets["train"] & sets["val"]) and not (sets["val"] & sets["test"])
    assert len(sp.train) + len(sp.val) + len(sp.test) == len(recs)
    assert sets["test"] == set(speaker_folds(recs, k=3, seed=0)[fold])
    assert len(sets["val"]) == 1


def test_every_speaker_tested_exactly_once_over_folds(recs):
    tested = [recs[i].speaker_key for f in range(3) for i in speaker_split(recs, k=3, fold=f, seed=0).test]
    assert sorted(tested) == sorted(r.speaker_key for r in recs)


@pytest.mark.parametrize("kw, message", [
    ({"k": 1}, "at least 2 folds"),
    ({"k": 7}, "cannot make 7 speaker folds"),
    ({"k": 3, "fold": 3}, "fold 3 is outside"),
    ({"k": 2, "val_speakers": 3}, "cannot hold out 3"),
])
def test_bad_split_options(recs, kw, message):
    with pytest.raises(ConfigError, match=message):
        speaker_split(recs, **kw)


def test_random_split_mixes_speakers_and_is_stratified(recs):
    sp = random_split(recs, test_fraction=0.25, val_fraction=0.0, seed=0)
    train_spk = {recs[i].speaker for i in sp.train}
    test_spk = {recs[i].speaker for i in sp.test}
    assert train_spk & test_spk  # the leak the class project had
    assert len(sp.test) == 24
    for emo in {r.emotion for r in recs}:
        assert sum(recs[i].emotion == emo for i in sp.test) == 3


def test_metrics_on_known_confusion():
    y_true = [0, 0, 0, 0, 1, 1, 2, 2]
    y_pred = [0, 0, 0, 1, 1, 1, 2, 0]
    cm = confusion_matrix(y_true, y_pred, 3)
    assert cm.tolist() == [[3, 1, 0], [0, 2, 0], [1, 0, 1]]
    assert uar(cm) == pytest.approx((0.75 + 1.0 + 0.5) / 3)
    f1 = [2 * 0.75 * 0.75 / 1.5, 2 * (2 / 3) * 1 / (2 / 3 + 1), 2 * 1 * 0.5 / 1.5]
    assert macro_f1(cm) == pytest.approx(np.mean(f1))
    rep = classification_report(y_true, y_pred, ["a", "b", "c"])
    assert rep["n"] == 8 and rep["accuracy"] == pytest.approx(6 / 8)
    assert rep["per_class"]["c"] == {"precision": 1.0, "recall": 0.5, "f1": pytest.approx(2 / 3), "support": 2}


def test_registry_and_m5_spec():
    assert {"m5", "cnn", "crnn"} <= set(list_models())
    m5 = create_model("m5", n_classes=8, in_channels=1)
    assert count_parameters(m5) == 25160
    assert m5(torch.zeros(3, 1, 24000)).shape == (3, 8)
    with pytest.raises(ModelError, match="unknown model 'resnet'.*m5"):
        create_model("resnet", n_classes=8, in_channels=1)


@pytest.mark.parametrize("name", ["cnn", "crnn"])
def test_logmel_models_shapes_and_size(name):
    m = create_model(name, n_classes=8, in_channels=64).eval()
    assert m(torch.zeros(2, 64, 301)).shape == (2, 8)
    assert count_parameters(m) < 5_000_000


def _two_corpora(recs):
    """The fake RAVDESS twice: as corpus "a" and as corpus "b", with the same speaker ids."""
    import dataclasses

    return [dataclasses.replace(r, corpus=c, path=r.path + c) for c in ("a", "b") for r in recs]


def test_multi_corpus_folds_keep_same_named_speakers_apart_and_spread_corpora(recs):
    both = _two_corpora(recs)
    folds = speaker_folds(both, k=3, seed=0)
    flat = [s for f in folds for s in f]
    assert len(flat) == len(set(flat)) == 12          # "a:01" and "b:01" are two speakers
    for f in folds:                                   # every fold holds speakers of both corpora
        assert {s.split(":")[0] for s in f} == {"a", "b"}
    for fold in range(3):
        sp = speaker_split(both, k=3, fold=fold, val_speakers=2, seed=0)
        sets = {n: {both[i].speaker_key for i in getattr(sp, n)} for n in ("train", "val", "test")}
        assert not (sets["train"] & sets["test"]) and not (sets["val"] & sets["test"])


def test_leave_one_corpus_out_keeps_corpora_disjoint(recs):
    both = _two_corpora(recs)
    sp = corpus_split(both, test_corpus="b", val_speakers=2, seed=0)
    assert {both[i].corpus for i in sp.test} == {"b"} and len(sp.test) == len(recs)
    assert {both[i].corpus for i in sp.train + sp.val} == {"a"}
    assert len(sp.val) > 0 and not ({both[i].speaker_key for i in sp.val} & {both[i].speaker_key for i in sp.train})
    with pytest.raises(ConfigError, match="not in the data"):
        corpus_split(both, test_corpus="c")
    with pytest.raises(ConfigError, match="two corpora"):
        corpus_split(recs, test_corpus=recs[0].corpus)
