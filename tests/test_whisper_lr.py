"""whisper-lr's optional whitened PCA: folded into the one linear layer, it must give exactly
what the scikit-learn pipeline it stands for gives, and survive a checkpoint round trip."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from escucha.models.whisper_lr import WhisperLinear


def _data(seed=0, n=240, d=48, k=4):
    """Samples of one fixed problem (the same class centres and nuisance directions for every
    seed; ``seed`` draws new samples)."""
    fixed = np.random.default_rng(123)
    centres, directions, offset = fixed.normal(size=(k, d)), fixed.normal(size=(3, d)), fixed.normal(size=d) * 10
    rng = np.random.default_rng(seed)
    y = np.arange(n) % k
    # a few loud nuisance directions (what corpora and recording chains add) over the classes
    nuisance = rng.normal(size=(n, 3)) @ directions * 5
    X = centres[y] + rng.normal(size=(n, d)) + nuisance + offset
    return X.astype(np.float32), y


def _probs(model, X):
    with torch.no_grad():
        return torch.softmax(model(torch.from_numpy(X)[..., None]), -1).numpy()


def test_pca_folded_into_the_linear_layer_matches_the_sklearn_pipeline():
    from sklearn.decomposition import PCA
    from sklearn.linear_model import LogisticRegression

    X, y = _data()
    m = WhisperLinear(n_classes=4, in_channels=X.shape[1], C=0.1, pca=12)
    info = m.fit(X, y)
    assert info["pca"] == 12
    X64 = X.astype(np.float64)
    Z = (X64 - X64.mean(0)) / (X64.std(0) + 1e-6)
    p = PCA(12, whiten=True, random_state=0).fit(Z)
    ref = LogisticRegression(C=0.1, max_iter=3000, class_weight="balanced", random_state=0).fit(p.transform(Z), y)
    Xt, _ = _data(seed=1)
    Zt = (Xt.astype(np.float64) - X64.mean(0)) / (X64.std(0) + 1e-6)
    np.testing.assert_allclose(_probs(m, Xt), ref.predict_proba(p.transform(Zt)), atol=2e-4)


def test_pca_changes_the_model_and_none_keeps_the_plain_regression():
    X, y = _data()
    plain = WhisperLinear(n_classes=4, in_channels=X.shape[1])
    plain.fit(X, y)
    projected = WhisperLinear(n_classes=4, in_channels=X.shape[1], pca=6)
    projected.fit(X, y)
    Xt, yt = _data(seed=2)
    # six whitened components cannot reproduce the 48-dimensional regression
    assert np.abs(_probs(plain, Xt) - _probs(projected, Xt)).max() > 0.01
    # both still learn the classes
    for m in (plain, projected):
        assert (_probs(m, Xt).argmax(1) == yt).mean() > 0.6


def test_pca_state_round_trips_and_bad_values_are_refused():
    X, y = _data()
    m = WhisperLinear(n_classes=4, in_channels=X.shape[1], pca=8)
    m.fit(X, y)
    again = WhisperLinear(n_classes=4, in_channels=X.shape[1], pca=8)
    again.load_state_dict(m.state_dict())
    np.testing.assert_array_equal(_probs(m, X), _probs(again, X))
    with pytest.raises(ValueError, match="pca must be between 1 and 48"):
        WhisperLinear(n_classes=4, in_channels=48, pca=0)
    with pytest.raises(ValueError, match="pca must be between 1 and 48"):
        WhisperLinear(n_classes=4, in_channels=48, pca=49)
