"""Scoring a run's model on held-out clips (the validation speakers after every epoch, the test
speakers at the end), the rows of ``predictions.csv``, and the end of a run: ``test_metrics.json``,
``predictions.csv`` and, last of all, ``summary.json``, which marks the run finished."""

from __future__ import annotations

import json
import time

import numpy as np

from ..corpora.manifest import Utterance
from ..evaluate.metrics import classification_report
from ..inference.predictor import Predictor
from ..models import count_parameters
from ..utils.io import atomic_write_csv, atomic_write_json
from .runs import RUN_SUMMARY

__all__ = ["score", "prediction_rows", "finish_run"]


def score(pred: Predictor, waves: list[np.ndarray], y: np.ndarray) -> tuple[np.ndarray, float, dict]:
    """``(probabilities (N, K), mean negative log-likelihood, classification report)`` of ``pred``
    on ``waves`` with true class indices ``y``."""
    probs = pred.predict_proba_waveforms(waves)
    nll = float(-np.mean(np.log(np.clip(probs[np.arange(len(y)), y], 1e-8, 1)))) if len(y) else float("nan")
    rep = classification_report(y, probs.argmax(1), pred.labels)
    return probs, nll, rep


def prediction_rows(records: list[Utterance], probs: np.ndarray, labels: list[str]) -> list[dict]:
    """One ``predictions.csv`` row per record: file, speaker, true and predicted label, confidence,
    ``p_<label>`` for each label (``probs``: ``(N, K)`` in the order of ``labels``), and last the
    corpus (speaker ids are only unique within one: RAVDESS and EmoDB both have a speaker 03)."""
    rows = []
    for r, p in zip(records, probs):
        k = int(np.argmax(p))
        rows.append({"file": r.path, "speaker": r.speaker, "true": r.emotion, "predicted": labels[k],
                     "confidence": f"{p[k]:.4f}", **{f"p_{lab}": f"{v:.4f}" for lab, v in zip(labels, p)},
                     "corpus": r.corpus})
    return rows


def finish_run(out, final, model, split, records, waves_by_idx, y_all, labels, best, t_start) -> dict:
    """Score the saved checkpoint on the test speakers and write the summary (last: it marks the
    run finished)."""
    train_minutes = (time.time() - t_start) / 60
    summary = {"run_dir": str(final), "model": json.loads((out / "config.json").read_text())["train"]["model"],
               "n_parameters": count_parameters(model),
               "best_epoch": best["epoch"], "best_val_uar": best["val_uar"], "train_minutes": round(train_minutes, 3)}
    if split.test:
        best_pred = Predictor.from_checkpoint(out / "checkpoint")
        test_recs = [records[i] for i in split.test]
        probs, tloss, trep = score(best_pred, [waves_by_idx[i] for i in split.test], y_all[split.test])
        trep = {**trep, "loss": tloss, "split": split.to_dict(), "best_epoch": best["epoch"]}
        atomic_write_json(out / "test_metrics.json", trep)
        atomic_write_csv(out / "predictions.csv", prediction_rows(test_recs, probs, labels))
        summary["test"] = {k: trep[k] for k in ("n", "accuracy", "uar", "macro_f1")}
    atomic_write_json(out / RUN_SUMMARY, summary)
    return summary
