"""What every predictor shares, whatever runs the network: inputs in, :class:`Prediction` out.

:class:`BasePredictor` holds everything between audio and the network — decoding, the gate
(:mod:`escucha.inference.gate`), resampling, preprocessing, windows, long inputs, many files —
and leaves three computations to a runtime: :meth:`~BasePredictor.predict_windows`,
:meth:`~BasePredictor.whole_features` and :meth:`~BasePredictor.proba_from_features`. The torch
runtime is :class:`escucha.inference.predictor.Predictor`; the ONNX Runtime one, which needs no
torch, is :class:`escucha.runtime.OnnxPredictor`. :class:`EnsemblePredictor` combines members of
either kind, with the same band routing and feature sharing.

A clip shorter than the model's clip length is centre-padded; a longer one is cut into windows
of that length (hop: half a window, the last one aligned to the end) whose probabilities are
averaged. Ensembles average the probabilities of their members.

No torch here: ``import escucha.inference.base`` stays light.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from typing import Iterable, Iterator, Sequence

import numpy as np

from ..audio import check_sample_rate, float_samples, load_audio, pad_or_crop, resample, to_mono, valid_audio
from ..data.waveforms import PreprocessConfig, preprocess
from ..errors import AudioError, EscuchaError, ModelError
from ..features.config import FeatureConfig

__all__ = ["Prediction", "BasePredictor", "EnsemblePredictor", "clip_windows", "LONG_SECONDS", "BANDS",
           "NARROWBAND_CUT_HZ", "NARROWBAND_MAX_DB"]


#: inputs longer than this (seconds) are scored like ``escucha analyze`` scores a call: voice
#: activity first, then windows over speech only, in bounded memory
LONG_SECONDS = 30.0


@dataclass
class Prediction:
    """Result for one input.

    Attributes
    ----------
    label : str or None
        The most probable emotion; ``None`` when the input could not be judged (see ``outcome``).
    probabilities : dict
        Probability of every label (empty when not judged). For inputs longer than
        :data:`LONG_SECONDS` these are the shares of speech time per emotion, as in
        ``escucha analyze``'s summary, and ``label`` is its dominant emotion.
    file : str or None
    outcome : str or None
        ``None`` when labelled; else ``"too short"`` or ``"no speech found"``
        (:mod:`escucha.inference.gate`), with ``reason`` saying why.
    duration : float or None
        Seconds of audio given (before any silence is trimmed).
    long : bool
        True when the input was scored as a long recording (speech segments only).
    uncertain : bool
        The top probability is under the model's ``uncertain_below``
        (:mod:`escucha.inference.priors`): ``label`` is the best guess, not worth acting on.
    """

    label: str | None
    probabilities: dict[str, float]
    file: str | None = None
    outcome: str | None = None
    reason: str = ""
    duration: float | None = None
    long: bool = False
    uncertain: bool = False

    @property
    def confidence(self) -> float | None:
        """The label's probability; ``None`` when not judged, and for a long recording, whose
        scores are shares of speech time, not probabilities."""
        return self.probabilities[self.label] if self.label is not None and not self.long else None

    @property
    def arousal(self) -> float | None:
        """The probability (a long recording: share of speech time) of high-arousal emotions
        (:func:`escucha.labels.dimension_scores`); ``None`` when not judged."""
        from ..labels import dimension_scores

        return dimension_scores(self.probabilities).get("arousal")

    @property
    def negative(self) -> float | None:
        """The probability (or share of speech time) of negative emotions; ``None`` when not judged."""
        from ..labels import dimension_scores

        return dimension_scores(self.probabilities).get("negative")

    @property
    def judged(self) -> bool:
        return self.outcome is None

    def probabilities_array(self, labels: Sequence[str]) -> np.ndarray:
        """Probabilities in the order of ``labels``, shape ``(len(labels),)`` (NaN when not judged)."""
        return np.array([self.probabilities.get(lab, np.nan) for lab in labels], dtype=np.float32)

    def to_dict(self) -> dict:
        """The JSON record: ``file, label, probabilities`` (for a long recording ``speech_share``
        instead: the share of speech time per emotion, not a probability), ``arousal`` and
        ``negative`` (:func:`escucha.labels.dimension_scores`: the probability, or share of speech
        time, of high arousal and of negative valence), ``duration``, and ``outcome``/``reason``
        when not judged."""
        from ..labels import dimension_scores

        scores = {k: round(v, 6) for k, v in self.probabilities.items()}
        d = {"file": self.file, "label": self.label}
        if self.long and self.outcome is None:
            d["speech_share"] = scores
        else:
            d["probabilities"] = scores
        d.update(dimension_scores(self.probabilities))  # arousal, negative (empty when not judged)
        if self.duration is not None:
            d["duration"] = round(self.duration, 3)
        if self.outcome is not None:
            d["outcome"], d["reason"] = self.outcome, self.reason
        if self.long:
            d["long"] = True
        if self.uncertain:
            d["uncertain"] = True
        return d


def clip_windows(y: np.ndarray, length: int, *, hop: int | None = None) -> np.ndarray:
    """Cut ``y`` ``(T,)`` into windows ``(W, length)``: centre-padded if short, else windows every
    ``hop`` samples (default ``length // 2``) with the last one ending at the end of ``y``."""
    n = y.shape[-1]
    if n <= length:
        return pad_or_crop(np.asarray(y, dtype=np.float32), length, mode="center")[None]
    hop = hop or max(1, length // 2)
    starts = list(range(0, n - length + 1, hop))
    if starts[-1] != n - length:
        starts.append(n - length)
    return np.stack([y[s:s + length] for s in starts]).astype(np.float32, copy=False)


class BasePredictor:
    """Emotion probabilities from audio, for one model; the network is run by a subclass.

    Attributes
    ----------
    config : dict
        The checkpoint's ``config.json`` (labels, features, preprocessing, clip length, ...).
    labels : list of str
    sample_rate : int
        Hz the model takes.
    clip_samples : int or None
        Window length in samples; ``None``: each input is taken whole.
    runtime : str
        ``"torch"`` or ``"onnx"``: what runs the network.
    """

    runtime = "none"
    #: a top probability under this flags an answer ``uncertain`` (set by the model's calibration)
    uncertain_below = 0.0

    def _configure(self, config: dict) -> None:
        """Set the attributes every runtime derives from a checkpoint config."""
        self.config = config
        self.labels: list[str] = list(config["labels"])
        self.feature_config = FeatureConfig.from_dict(config["features"])
        self.preprocess_config = PreprocessConfig.from_dict(config.get("preprocess", {}))
        self.preprocess_config.sample_rate = self.feature_config.sample_rate
        self.sample_rate = self.feature_config.sample_rate
        clip = config.get("clip_seconds")
        # None: the model takes each input whole (e.g. utterance-level functionals), no windows
        self.clip_samples = None if clip is None else int(round(clip * self.sample_rate))

    @property
    def trained_speakers(self) -> set[str]:
        """``"corpus:speaker"`` ids the model was trained (or validated) on, if recorded."""
        return set(self.config.get("trained_on", {}).get("speakers", []))

    # -- what a runtime provides ------------------------------------------------------------
    def predict_windows(self, windows: np.ndarray, *, batch_size: int = 64) -> np.ndarray:
        """Probabilities ``(W, n_classes)`` for preprocessed windows ``(W, clip_samples)``."""
        raise NotImplementedError

    def whole_features(self, waves: Iterable[np.ndarray]) -> list:
        """Front-end features of each whole waveform (models without windows), in the runtime's
        own array type; give them to :meth:`proba_from_features`."""
        raise NotImplementedError

    def proba_from_features(self, feats: Sequence) -> np.ndarray:
        """``(N, n_classes)``: the model's probabilities for features from :meth:`whole_features`."""
        raise NotImplementedError

    def set_num_threads(self, n: int) -> None:
        """Threads the network may use from now on (1 keeps a batch worker on one core)."""
        raise NotImplementedError

    # -- what the classifier hears (escucha adapt) ---------------------------------------------
    def add_feature_observer(self, fn) -> None:
        """Call ``fn(x)`` with every batch of features the model's classifier receives, ``x`` a
        float array ``(B, D, ...)`` (the front end's output: for whisper-lr and egemaps-svm the
        input of their standardisation), on either runtime. :mod:`escucha.inference.adapt` measures
        a user's recordings this way, exactly as prediction computes them."""
        self.__dict__.setdefault("_observers", []).append(fn)

    def remove_feature_observer(self, fn) -> None:
        obs = self.__dict__.get("_observers", [])
        if fn in obs:
            obs.remove(fn)

    def _observe(self, x) -> None:
        obs = self.__dict__.get("_observers")
        if obs:
            arr = x.detach().cpu().numpy() if hasattr(x, "detach") else np.asarray(x)
            for fn in obs:
                fn(arr)

    # -- shared ------------------------------------------------------------------------------
    def predict_proba_waveforms(self, waves: Iterable[np.ndarray], *, batch_size: int = 64) -> np.ndarray:
        """``(N, n_classes)`` for preprocessed mono waveforms at :attr:`sample_rate` (any lengths)."""
        if self.clip_samples is None:
            return self.proba_from_features(self.whole_features(waves))
        wins, owner = [], []
        for i, y in enumerate(waves):
            w = clip_windows(y, self.clip_samples)
            wins.append(w)
            owner += [i] * len(w)
        if not wins:
            return np.zeros((0, len(self.labels)), dtype=np.float32)
        probs = self.predict_windows(np.concatenate(wins), batch_size=batch_size)
        owner = np.asarray(owner)
        n = owner.max() + 1
        out = np.zeros((n, probs.shape[1]), dtype=np.float64)
        np.add.at(out, owner, probs)
        out /= np.bincount(owner, minlength=n)[:, None]
        return out.astype(np.float32)

    def prepare(self, y: np.ndarray, sample_rate: int, *, name: str = "audio", preprocess_: bool = True,
                resample_: bool = True) -> np.ndarray:
        """Mono, resampled, preprocessed float32 signal ready for :meth:`predict_proba_waveforms`
        (``preprocess_=False``: not preprocessed; ``resample_=False``: nor resampled)."""
        sample_rate = check_sample_rate(sample_rate, name=name)
        y = valid_audio(float_samples(y), name=name)
        if y.ndim == 2:
            # accept (C, T) or (T, C): channels is the short axis
            y = to_mono(y if y.shape[0] <= y.shape[1] else y.T)
        if not resample_:
            return y
        y = resample(y, int(sample_rate), self.sample_rate)
        return preprocess(y, self.sample_rate, self.preprocess_config, name=name) if preprocess_ else y

    def load(self, path: str | os.PathLike) -> np.ndarray:
        y, _ = load_audio(path, sample_rate=self.sample_rate)
        return preprocess(y, self.sample_rate, self.preprocess_config, name=str(path))

    def _to_prediction(self, p: np.ndarray, file: str | None, duration: float | None = None) -> Prediction:
        if not np.all(np.isfinite(p)):
            raise ModelError(f"{file or 'audio'}: the model gave non-finite probabilities (a broken checkpoint?)")
        probs = {lab: float(v) for lab, v in zip(self.labels, p)}
        return Prediction(label=self.labels[int(np.argmax(p))], probabilities=probs, file=file, duration=duration,
                          uncertain=bool(float(np.max(p)) < self.uncertain_below))

    def _judge(self, y: np.ndarray, file: str | None, sr: int, *, y16: np.ndarray | None = None) -> Prediction | None:
        from .gate import judge

        outcome, reason = judge(y, sr, y16=y16)
        if outcome is None:
            return None
        return Prediction(label=None, probabilities={}, file=file, outcome=outcome, reason=reason,
                          duration=y.shape[-1] / sr)

    def _predict_long(self, x, file: str | None, sample_rate: int | None = None) -> Prediction:
        """Score a long input as ``escucha analyze`` does; the summary becomes the prediction."""
        from ..longaudio.analyze import CallAnalyzer, analyze_file

        if file is not None:
            res = analyze_file(x, self)
        else:
            y = np.asarray(x, dtype=np.float32)
            y = y.T if y.ndim == 2 and y.shape[0] <= y.shape[1] else y
            an = CallAnalyzer(self, sample_rate=int(sample_rate), channels_in=1 if y.ndim == 1 else y.shape[1])
            an.feed(y)
            an.finish()
            res = an.result()
        summ = res.summary
        if summ.get("dominant") is None:
            from .gate import no_speech_reason

            return Prediction(label=None, probabilities={}, file=file, outcome="no speech found",
                              reason=res.outcome[1] or no_speech_reason(res.duration),
                              duration=res.duration, long=True)
        return Prediction(label=summ["dominant"], probabilities=dict(summ["emotion_share"]), file=file,
                          duration=res.duration, long=True)

    # -- public API --------------------------------------------------------------------------
    def predict(self, x, sample_rate: int | None = None) -> Prediction:
        """Predict one input: a path, or an array ``(T,)``/``(C, T)`` with its ``sample_rate``.

        Inputs too short or without speech get a :class:`Prediction` with ``label=None`` and an
        ``outcome`` instead of a label (:mod:`escucha.inference.gate`). Inputs longer than
        :data:`LONG_SECONDS` are scored over their speech segments, in bounded memory, and the
        result is the share of speech time per emotion (as in ``escucha analyze``).
        """
        from .gate import MIN_SECONDS

        if isinstance(x, (str, os.PathLike)):
            from ..audio import audio_info

            file = str(x)
            info = audio_info(x)
            if sample_rate is not None and check_sample_rate(sample_rate) != info["sample_rate"]:
                raise AudioError(f"{file}: the file is {info['sample_rate']} Hz; sample_rate={sample_rate} is for "
                                 "arrays of samples (a file's rate is read from it)")
            if info["duration"] > LONG_SECONDS:
                return self._predict_long(x, file)
            y, sr = load_audio(x)
        else:
            if not isinstance(x, (np.ndarray, list, tuple)) and not hasattr(x, "__array__"):
                raise AudioError(f"predict takes a path to a recording or an array of samples, got {type(x).__name__}")
            if sample_rate is None:
                raise AudioError("array input needs sample_rate= (Hz)")
            file = None
            sr = check_sample_rate(sample_rate)
            arr = float_samples(x)
            n = arr.shape[-1] if arr.ndim == 1 else max(arr.shape, default=0)
            if n > LONG_SECONDS * sr:
                return self._predict_long(arr, None, sr)
            y = self.prepare(arr, sr, preprocess_=False, resample_=False)
        given = y.shape[-1] / sr      # the duration reported: what was given, before trimming
        # judged at the input's own rate (a model's low rate must not hide the speech band); a
        # 16 kHz model's resampled signal is the one the gate's voice activity detection hears
        ym = resample(y, sr, self.sample_rate) if y.shape[-1] >= MIN_SECONDS * sr else None
        verdict = self._judge(y, file, sr, y16=ym if self.sample_rate == 16000 else None)
        if verdict is not None:
            return verdict
        y = preprocess(ym, self.sample_rate, self.preprocess_config, name=file or "audio")
        return self._to_prediction(self.predict_proba_waveforms([y])[0], file, given)

    def iter_predictions(self, paths: Iterable[str | os.PathLike], *, show_progress: bool = False
                         ) -> Iterator[tuple[str, Prediction | None, str | None]]:
        """Predict many files one by one: ``(file, prediction, None)`` or ``(file, None, message)``
        as each is done, so that a caller can keep every finished result (an interrupted batch
        loses nothing it finished).

        Whatever one file raises (an :class:`EscuchaError` or an unexpected failure) is given as
        that file's one-line message (naming the file), and the next file goes on."""
        from ..utils.progress import progress

        paths = [paths] if isinstance(paths, (str, os.PathLike)) else list(paths)   # one file, not its letters
        for p in progress(paths, desc="predicting", unit="file", disable=not show_progress or None):
            try:
                pred = self.predict(p)
            except EscuchaError as e:
                yield str(p), None, str(e)
                continue
            except Exception as e:  # a batch goes on whatever one file does
                msg = str(e).strip().splitlines()[0] if str(e).strip() else ""
                yield str(p), None, f"{p}: unexpected {type(e).__name__} ({msg})"
                continue
            yield str(p), pred, None

    def predict_files(self, paths: Iterable[str | os.PathLike], *, show_progress: bool = False
                      ) -> tuple[list[Prediction], list[tuple[str, str]]]:
        """Predict many files; a bad file is recorded in ``errors`` ``[(file, message)]`` and skipped
        (:meth:`iter_predictions`, gathered)."""
        preds, errors = [], []
        for f, pred, err in self.iter_predictions(paths, show_progress=show_progress):
            if err is None:
                preds.append(pred)
            else:
                errors.append((f, err))
        return preds, errors


#: Ensemble routing: energy above this frequency, relative to the total, below NARROWBAND_MAX_DB
#: marks telephone-band audio (clean studio speech measured -23 dB at worst, G.711 telephone
#: simulations -32 dB at most even with a lower 3.8 kHz cut).
NARROWBAND_CUT_HZ = 4200.0
NARROWBAND_MAX_DB = -35.0
BANDS = ("any", "wide", "narrow")


class EnsemblePredictor(BasePredictor):
    """Averages the probabilities of member checkpoints that may differ in architecture,
    features and sample rate (e.g. a raw-waveform CNN and eGeMAPS + SVM).

    Its folder holds ``config.json`` with ``"ensemble": [{"path": "member-0", "weight": 1.0}, ...]``
    and one checkpoint folder per member. Members must share labels and preprocessing. Audio is
    prepared once at :attr:`sample_rate` (the highest member rate) and resampled per member.
    Members may run on torch or ONNX Runtime (:attr:`runtime` is theirs).
    """

    def __init__(self, members: Sequence[BasePredictor], weights: Sequence[float], config: dict,
                 bands: Sequence[str] | None = None):
        """Combine loaded ``members``; ``weights`` (finite, > 0, one per member) are normalised to sum 1.

        Raises
        ------
        ModelError
            No members, a weight count that differs from the member count, a weight that is not
            a finite number > 0, or members that disagree on labels or preprocessing.
        """
        members = list(members)
        if not members:
            raise ModelError("an ensemble needs at least one member; got none")
        try:
            w = np.asarray([float(x) for x in weights], dtype=np.float64)
        except (TypeError, ValueError):
            raise ModelError(f"ensemble weights must be numbers, one per member; got {weights!r}") from None
        if w.shape != (len(members),):
            raise ModelError(f"ensemble has {len(members)} members but {w.size} weights; give one weight per member")
        if not (np.all(np.isfinite(w)) and np.all(w > 0)):
            raise ModelError(f"ensemble weights must be finite numbers > 0; got {w.tolist()}")
        labels = list(members[0].labels)
        pre = members[0].preprocess_config
        for m in members[1:]:
            if list(m.labels) != labels:
                raise ModelError(f"ensemble members disagree on labels: {m.labels} vs {labels}")
            if (m.preprocess_config.trim_db, m.preprocess_config.loudness_db) != (pre.trim_db, pre.loudness_db):
                raise ModelError("ensemble members must share preprocessing (trim_db, loudness_db)")
        self.members = members
        self.weights = w / float(w.sum())
        self.bands = list(bands) if bands else ["any"] * len(self.members)
        bad = set(self.bands) - set(BANDS)
        if bad or len(self.bands) != len(self.members):
            raise ModelError(f"ensemble member bands must be one of {', '.join(BANDS)}, one per member; got {self.bands}")
        self.config = config
        self.labels = labels
        self.models = [mod for m in members for mod in getattr(m, "models", [])]
        self.runtime = "+".join(sorted({m.runtime for m in members}))
        self.sample_rate = max(m.sample_rate for m in members)
        self.feature_config = members[int(np.argmax([m.sample_rate for m in members]))].feature_config
        self.preprocess_config = PreprocessConfig(sample_rate=self.sample_rate, trim_db=pre.trim_db,
                                                  loudness_db=pre.loudness_db)
        self.clip_samples = int(round(float(config.get("clip_seconds") or 3.0) * self.sample_rate))
        # members with the same front end (settings, rate, level, runtime) share its features
        self._front_keys = [json.dumps([m.feature_config.to_dict(), m.sample_rate, m.preprocess_config.loudness_db,
                                        type(m).__name__]) for m in members]

    @classmethod
    def from_members(cls, members: Sequence[BasePredictor], cfg: dict, *, source) -> "EnsemblePredictor":
        """The ensemble of ``members`` loaded from the ensemble config ``cfg`` (read from ``source``)."""
        if "labels" in cfg and list(cfg["labels"]) != list(members[0].labels):
            raise ModelError(f"{source}: labels {cfg['labels']} differ from the members' {members[0].labels}")
        try:
            return cls(members, [float(m.get("weight", 1.0)) for m in cfg["ensemble"]], cfg,
                       bands=[m.get("band", "any") for m in cfg["ensemble"]])
        except ModelError as e:
            raise ModelError(f"{source}: {e}") from None

    def set_num_threads(self, n: int) -> None:
        for m in self.members:
            m.set_num_threads(n)

    def band_of(self, y: np.ndarray) -> str:
        """``"narrow"`` for telephone-band input (almost no energy above 4.2 kHz), else ``"wide"``.

        The spectrum is taken over the whole signal, zero-padded to a length the FFT factors
        quickly (a prime length costs 10 times more; the band energies hardly change)."""
        if self.sample_rate <= 2 * NARROWBAND_CUT_HZ:
            return "narrow"
        if len(y) < 2:
            return "wide"
        n = _fast_len(len(y))
        spec = np.abs(np.fft.rfft(np.asarray(y, dtype=np.float32), n)).astype(np.float64) ** 2
        freqs = np.fft.rfftfreq(n, 1.0 / self.sample_rate)
        total = float(spec.sum())
        if total <= 0:
            return "wide"
        ratio_db = 10 * np.log10(float(spec[freqs > NARROWBAND_CUT_HZ].sum()) / total + 1e-12)
        return "narrow" if ratio_db < NARROWBAND_MAX_DB else "wide"

    def _for_member(self, m: BasePredictor, waves: Iterable[np.ndarray]) -> list[np.ndarray]:
        # Loudness normalisation is a gain, so normalising again at the member's rate gives what
        # the member computes on its own (up to resampling order). A member at the ensemble's
        # rate takes the waveforms as they are (already normalised to the same level).
        waves = list(waves)
        if m.sample_rate == self.sample_rate and m.preprocess_config.loudness_db == self.preprocess_config.loudness_db:
            return waves
        cfg = PreprocessConfig(sample_rate=m.sample_rate, trim_db=None, loudness_db=m.preprocess_config.loudness_db)
        return [preprocess(resample(np.asarray(y, dtype=np.float32), self.sample_rate, m.sample_rate), m.sample_rate, cfg)
                for y in waves]

    def predict_proba_waveforms(self, waves: Iterable[np.ndarray], *, batch_size: int = 64) -> np.ndarray:
        """Weighted mean of the members' probabilities. Members marked ``band: narrow`` (e.g.
        trained with telephone augmentation) answer only for telephone-band inputs and ``wide``
        ones only for full-band inputs; ``any`` members always answer."""
        waves = list(waves)
        out = np.zeros((len(waves), len(self.labels)), dtype=np.float64)
        if not waves:
            return out.astype(np.float32)
        routed = set(self.bands) != {"any"}
        bands = [self.band_of(y) for y in waves] if routed else ["any"] * len(waves)
        for band in sorted(set(bands)):
            idx = [i for i, b in enumerate(bands) if b == band]
            active = [k for k, b in enumerate(self.bands) if b in (band, "any")] or list(range(len(self.members)))
            wsum = float(sum(self.weights[k] for k in active))
            group = [waves[i] for i in idx]
            shared: dict[str, list] = {}   # members with the same front end share its features
            for k in active:
                m = self.members[k]
                if m.clip_samples is None:
                    key = self._front_keys[k]
                    if key not in shared:
                        shared[key] = m.whole_features(self._for_member(m, group))
                    p = m.proba_from_features(shared[key])
                else:
                    p = m.predict_proba_waveforms(self._for_member(m, group), batch_size=batch_size)
                out[idx] += (self.weights[k] / wsum) * p
        return out.astype(np.float32)

    def predict_windows(self, windows: np.ndarray, *, batch_size: int = 64) -> np.ndarray:
        """Each window is given whole to every member (resampled to its rate)."""
        return self.predict_proba_waveforms(list(windows), batch_size=batch_size)


def _fast_len(n: int) -> int:
    """Smallest length >= ``n`` whose only prime factors are 2, 3 and 5."""
    best = 1 << max(0, (n - 1).bit_length())
    p5 = 1
    while p5 < best:
        p35 = p5
        while p35 < best:
            q = p35
            while q < n:
                q *= 2
            best = min(best, q)
            p35 *= 3
        p5 *= 5
    return best
