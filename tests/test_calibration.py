"""Deployment settings: temperature, the class priors of the recordings, the uncertain flag
(escucha.inference.priors, escucha.inference.answers.Calibrated)."""

from __future__ import annotations

import json

import numpy as np
import pytest

from escucha.errors import ConfigError
from escucha.inference.priors import (Calibration, apply_temperature, em_priors, expected_calibration_error,
                                      fit_temperature, shift_priors)


def _softmax(z):
    z = z - z.max(1, keepdims=True)
    e = np.exp(z)
    return e / e.sum(1, keepdims=True)


def _gaussian_task(n, prior, rng, k=3, sep=1.5):
    """Classes are unit Gaussians on a line; returns labels and the exact posteriors under a
    uniform training prior (what a balanced, calibrated model gives)."""
    y = rng.choice(k, n, p=prior)
    x = y * sep + rng.standard_normal(n)
    loglik = -0.5 * (x[:, None] - np.arange(k)[None] * sep) ** 2
    return y, _softmax(loglik)


def test_temperature_one_is_identity_and_a_higher_one_softens_without_changing_the_answer():
    p = _softmax(np.random.default_rng(0).standard_normal((50, 4)) * 3)
    assert np.allclose(apply_temperature(p, 1.0), p)
    q = apply_temperature(p, 3.0)
    assert np.allclose(q.sum(1), 1) and (q.argmax(1) == p.argmax(1)).all()
    assert (q.max(1) <= p.max(1) + 1e-12).all() and (q.max(1) < p.max(1)).any()


def test_fit_temperature_recovers_the_overconfidence_of_a_model():
    rng = np.random.default_rng(1)
    z = rng.standard_normal((4000, 5)) * 1.5
    y = np.array([rng.choice(5, p=p) for p in _softmax(z)])
    overconfident = _softmax(3 * z)  # the labels follow softmax(z): T = 3 undoes it
    t = fit_temperature(overconfident, y)
    assert 2.6 < t < 3.4
    before, _ = expected_calibration_error(overconfident, y)
    after, bins = expected_calibration_error(apply_temperature(overconfident, t), y)
    assert after < 0.03 < before and sum(b["n"] for b in bins) == len(y)


def test_a_deployment_prior_is_bayes_rule_and_wins_on_skewed_recordings():
    rng = np.random.default_rng(2)
    prior = np.array([0.7, 0.2, 0.1])
    y, post = _gaussian_task(6000, prior, rng)
    shifted = shift_priors(post, prior)
    assert np.allclose(shifted.sum(1), 1)
    assert np.mean(shifted.argmax(1) == y) > np.mean(post.argmax(1) == y) + 0.05


def test_em_finds_the_prior_of_the_recordings_without_labels():
    rng = np.random.default_rng(3)
    prior = np.array([0.7, 0.2, 0.1])
    _, post = _gaussian_task(6000, prior, rng)
    est = em_priors(post, np.full(3, 1 / 3), strength=1e-9, ratio=100)
    assert np.abs(est - prior).max() < 0.05


def test_em_is_bounded_a_few_turns_barely_move_it_and_no_share_leaves_its_box():
    rng = np.random.default_rng(4)
    _, post = _gaussian_task(4, np.array([1.0, 0, 0]), rng)
    start = np.full(3, 1 / 3)
    few = em_priors(post, start, strength=16)
    assert np.abs(few - start).max() < 0.15
    _, post = _gaussian_task(5000, np.array([1.0, 0, 0]), rng)
    many = em_priors(post, start, strength=16, ratio=2.0)
    assert many[0] == pytest.approx(2 / 3, abs=1e-6)  # capped at start * ratio
    assert (many >= start / 2 - 1e-9).all()


def test_an_all_angry_batch_stays_angry():
    """EM moves the priors towards what the batch holds: an angry batch gets a higher angry prior,
    so its answers stay angry, even starting from a mostly-neutral deployment prior."""
    rng = np.random.default_rng(5)
    labels = ["neutral", "sad", "angry"]
    y, post = _gaussian_task(300, np.array([0.0, 0.0, 1.0]), rng)
    start = Calibration(prior={"neutral": 0.5, "sad": 0.25, "angry": 0.25}).prior_vector(labels)
    fixed = shift_priors(post, start)
    est = em_priors(post, start, strength=16)
    adapted = shift_priors(post, est)
    assert est[2] > start[2]
    assert np.mean(adapted.argmax(1) == 2) >= np.mean(fixed.argmax(1) == 2) >= 0.6
    only = em_priors(post, start, strength=16, only=0)  # the neutral share alone
    assert only[0] < start[0] and np.isclose(only[1] / only[2], start[1] / start[2])


def test_calibration_settings_are_checked_and_travel_as_json():
    c = Calibration.from_dict({"temperature": 3.5, "prior": {"neutral": 0.35}, "uncertain_below": 0.4})
    assert Calibration.from_dict(json.loads(json.dumps(c.to_dict()))) == c
    v = c.prior_vector(["neutral", "happy", "sad"])
    assert v[0] > v[1] == v[2] and np.isclose(v.sum(), 1)
    assert Calibration.from_dict(None).identity
    for bad in ({"temperature": 0}, {"temperature": "hot"}, {"em_ratio": 0.5}):
        with pytest.raises(ConfigError):
            Calibration.from_dict(bad)
