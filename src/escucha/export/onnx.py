"""``escucha export``: a model or ensemble as ONNX graphs plus a JSON config that describes them.

:func:`export_model` loads the model on torch, writes one graph per learned front end (the
Whisper encoder layers a model pools, a local wav2vec2-style encoder), one per spectral front end
(log-mel, MFCC, Whisper's log-mel: for runtimes without escucha) and one per member (features ->
probabilities), and a ``config.json`` with labels, sample rate, feature settings, band routing,
ensemble weights and the digests of the source files (:mod:`escucha.runtime.format`). Then it
runs the export on ONNX Runtime against the torch model on probe signals (wide-band and
telephone-band) and refuses an fp32 export whose probabilities differ by more than
:data:`PARITY_ATOL`.

Quantisation (``quantize="dynamic"`` or ``"static"``) makes int8 versions of the encoder and
member graphs with :mod:`onnxruntime.quantization` (matrix products only: int8 convolutions are
slower on CPU) and keeps each one only where it runs faster on one thread; spectral graphs stay
fp32. Whether int8 keeps the accuracy is measured on labelled data by
``benchmarks/quantize.py`` (``docs/speed.md``): the export reports how far the probabilities
moved on the probe signals.

eGeMAPS members export their classifier only; their features stay openSMILE's (not torch, but
not torch-free C++ either: the runtime needs the ``opensmile`` package for them).
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
import time
import warnings
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from ..errors import ConfigError, ModelError

__all__ = ["export_model", "ExportReport", "QUANTIZE", "PARITY_ATOL", "OPSET"]

QUANTIZE = ("none", "dynamic", "static")
#: fp32 exports must give the torch model's probabilities within this (absolute)
PARITY_ATOL = 1e-4
OPSET = 17
#: int8 is kept for a graph only when it takes at most this share of the fp32 time
INT8_MAX_TIME_RATIO = 0.9


@dataclass
class GraphReport:
    file: str
    role: str                      # "encoder", "spectrogram", "member"
    precision: str
    bytes: int
    ms_fp32: float | None = None   # one thread, on the probe input
    ms_int8: float | None = None
    note: str = ""


@dataclass
class ExportReport:
    """What :func:`export_model` wrote and measured."""

    out: Path
    graphs: list[GraphReport] = field(default_factory=list)
    max_abs_diff: float = 0.0        # probabilities, export vs torch, on the probe signals
    labels_agree: float = 1.0        # share of probe signals with the same label
    spectrogram_max_abs_diff: float | None = None

    def table(self) -> str:
        """The graphs as a text table."""
        rows = [f"{'graph':34s} {'role':12s} {'precision':13s} {'size':>9s} {'fp32 ms':>8s} {'int8 ms':>8s}  note"]
        for g in self.graphs:
            fp = f"{g.ms_fp32:.2f}" if g.ms_fp32 is not None else "-"
            q = f"{g.ms_int8:.2f}" if g.ms_int8 is not None else "-"
            rows.append(f"{g.file:34s} {g.role:12s} {g.precision:13s} {g.bytes / 1e6:8.2f}M {fp:>8s} {q:>8s}  {g.note}")
        return "\n".join(rows)


# -- probe signals ---------------------------------------------------------------------------
def probe_signals(sample_rate: int) -> list[np.ndarray]:
    """Deterministic speech-like test signals (harmonic tones with vibrato and noise) of 1.0, 2.7
    and 4.3 s, the last band-limited to 3.4 kHz like a telephone call."""
    from ..audio import resample

    rng = np.random.default_rng(0)
    out = []
    for k, seconds in enumerate((1.0, 2.7, 4.3)):
        t = np.arange(int(seconds * sample_rate)) / sample_rate
        f0 = 140.0 + 40.0 * k + 15.0 * np.sin(2 * np.pi * 3.0 * t)
        phase = 2 * np.pi * np.cumsum(f0) / sample_rate
        y = sum((0.5 / h) * np.sin(h * phase) for h in range(1, 12))
        y = 0.2 * y * (0.6 + 0.4 * np.sin(2 * np.pi * 1.5 * t) ** 2) + 0.01 * rng.standard_normal(len(t))
        y = y.astype(np.float32)
        if k == 2 and sample_rate > 8000:
            y = resample(resample(y, sample_rate, 6800), 6800, sample_rate)
        out.append(y)
    return out


# -- export ------------------------------------------------------------------------------------
def _onnx_export(module, args: tuple, path: Path, *, input_name: str, output_name: str, dynamic: dict) -> None:
    import torch

    module.eval()
    with warnings.catch_warnings(), torch.inference_mode(False), torch.no_grad():
        warnings.simplefilter("ignore")
        torch.onnx.export(module, args, str(path), input_names=[input_name], output_names=[output_name],
                          dynamic_axes={input_name: dynamic, output_name: {0: "batch"}}, opset_version=OPSET,
                          do_constant_folding=True, dynamo=False)


def _time_graph(path: Path, x: np.ndarray, *, repeats: int = 15) -> float:
    """Fastest of ``repeats`` runs (ms) on one thread: the least disturbed by other work."""
    import onnxruntime as ort

    opts = ort.SessionOptions()
    opts.intra_op_num_threads = 1
    opts.inter_op_num_threads = 1
    opts.log_severity_level = 3
    s = ort.InferenceSession(str(path), opts, providers=["CPUExecutionProvider"])
    feed = {s.get_inputs()[0].name: x}
    s.run(None, feed)
    best = float("inf")
    for _ in range(repeats):
        t = time.perf_counter()
        s.run(None, feed)
        best = min(best, time.perf_counter() - t)
    return best * 1000


class _Calibration:
    """An onnxruntime calibration data reader over a list of input arrays."""

    def __init__(self, name: str, arrays: list[np.ndarray]):
        self.name, self.it = name, iter(arrays)

    def get_next(self):
        x = next(self.it, None)
        return None if x is None else {self.name: x}

    def rewind(self):  # pragma: no cover - some onnxruntime versions call it
        pass


def _quantize(src: Path, dst: Path, mode: str, calib: list[np.ndarray] | None) -> None:
    from onnxruntime.quantization import QuantFormat, QuantType, quantize_dynamic, quantize_static
    from onnxruntime.quantization.shape_inference import quant_pre_process

    pre = dst.with_name(dst.stem + ".pre.onnx")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        quant_pre_process(str(src), str(pre), skip_symbolic_shape=True)
        try:
            if mode == "dynamic":
                quantize_dynamic(str(pre), str(dst), weight_type=QuantType.QInt8, op_types_to_quantize=["MatMul"])
            else:
                import onnx

                name = onnx.load(str(pre), load_external_data=False).graph.input[0].name
                quantize_static(str(pre), str(dst), _Calibration(name, calib), quant_format=QuantFormat.QDQ,
                                op_types_to_quantize=["MatMul"], per_channel=False, weight_type=QuantType.QInt8,
                                activation_type=QuantType.QUInt8)
        finally:
            pre.unlink(missing_ok=True)


def _check_out(out: Path, source_dir: Path, *, force: bool) -> bool:
    """Whether ``out`` replaces an existing export; refuses anything else that is there."""
    from ..runtime.format import is_export_dir

    target = out.resolve()
    if target == source_dir.resolve() or target in source_dir.resolve().parents:
        raise ConfigError(f"{out}: is or holds the model {source_dir}; write the export into a new folder "
                          f"(default: {source_dir / 'onnx'})")
    if not out.exists():
        return False
    if not out.is_dir():
        raise ConfigError(f"{out}: exists and is not a folder")
    if not any(out.iterdir()):
        return False
    if not is_export_dir(out):
        raise ConfigError(f"{out}: folder exists and is not an escucha ONNX export; refusing to replace it; "
                          "choose another folder")
    if not force:
        raise ConfigError(f"{out}: an export is already there; pass --force to replace it")
    return True


def export_model(source: str | os.PathLike, out: str | os.PathLike | None = None, *, quantize: str = "none",
                 calibration: list[str | os.PathLike] | None = None, force: bool = False,
                 spectrograms: bool = True) -> ExportReport:
    """Export the model (checkpoint, run or ensemble folder) at ``source`` to ONNX in ``out``.

    Parameters
    ----------
    source : path
        What :func:`escucha.load_model` loads (not an export).
    out : path, optional
        The export folder (default: ``<model folder>/onnx``, which :func:`escucha.load_model`
        then uses by itself). Written aside and moved into place when complete and checked.
    quantize : {"none", "dynamic", "static"}
        int8 for the encoder and member graphs where it is faster (see the module notes).
    calibration : list of paths, optional
        Audio files or folders whose features calibrate ``quantize="static"`` (required then).
    force : bool
        Replace an existing export in ``out`` (never anything else).
    spectrograms : bool
        Also write the spectral front ends as graphs (for runtimes without escucha).

    Raises
    ------
    ConfigError
        Bad ``quantize``, static without calibration audio, an ``out`` that may not be written.
    ModelError
        The model cannot be loaded, or the export's probabilities differ from torch's by more
        than :data:`PARITY_ATOL` (fp32).
    """
    from .. import __version__
    from ..checkpoint import read_checkpoint_config
    from ..inference.predictor import load_model
    from ..runtime.format import EXPORT_DIRNAME, EXPORT_FORMAT, EXPORT_VERSION, file_digest, is_export_dir
    from ..runtime.format import source_digests
    from ..utils.io import atomic_write_json, swap_folder

    if quantize not in QUANTIZE:
        raise ConfigError(f"quantize {quantize!r} is unknown; choose one of {', '.join(QUANTIZE)}")
    if quantize == "static" and not calibration:
        raise ConfigError("static quantisation needs calibration audio: give --calibration FILE_OR_DIR")
    try:
        import onnx  # noqa: F401
        import torch
    except ImportError as e:
        raise ConfigError(f"escucha export needs torch and onnx ({e.name} is missing): "
                          "pip install 'escucha[train]'") from None
    if is_export_dir(source):
        raise ConfigError(f"{source}: is already an ONNX export; export its source model")
    d, cfg = read_checkpoint_config(source)
    out = Path(out) if out is not None else d / EXPORT_DIRNAME
    replace = _check_out(out, d, force=force)
    predictor = load_model(d, runtime="torch", calibrate=False)  # the network itself, as exported
    ensemble = "ensemble" in cfg
    members = predictor.members if ensemble else [predictor]
    entries = cfg["ensemble"] if ensemble else [{"weight": 1.0, "band": "any"}]

    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{out.name}.new-", dir=out.parent))
    umask = os.umask(0)
    os.umask(umask)
    os.chmod(tmp, 0o777 & ~umask)  # mkdtemp's 0700 would follow the folder into place
    report = ExportReport(out=out)
    try:
        calib_waves = _calibration_waves(predictor, calibration) if quantize == "static" else None
        fronts, front_of = [], []
        graphs: dict[str, dict] = {}
        for m in members:
            key = json.dumps(m.feature_config.to_dict(), sort_keys=True)
            keys = [json.dumps(f["features"], sort_keys=True) for f in fronts]
            if key in keys:
                front_of.append(keys.index(key))
                continue
            j = len(fronts)
            fronts.append(_export_frontend(m, j, tmp, report, quantize=quantize, calib_waves=calib_waves,
                                           spectrograms=spectrograms))
            front_of.append(j)
        out_members = []
        for k, (m, e) in enumerate(zip(members, entries)):
            name = f"member-{k}.onnx"
            _export_member(m, name, tmp, report, quantize=quantize, calib_waves=calib_waves)
            out_members.append({"config": m.config, "weight": float(e.get("weight", 1.0)),
                                "band": e.get("band", "any"), "frontend": front_of[k], "graph": name})
        for g in report.graphs:
            graphs[g.file] = {"role": g.role, "precision": g.precision, "bytes": g.bytes,
                              "sha256": file_digest(tmp / g.file)}
        import onnx

        export_cfg = {
            "format": EXPORT_FORMAT, "version": EXPORT_VERSION,
            "labels": list(predictor.labels), "sample_rate": int(predictor.sample_rate),
            "model": cfg, "members": out_members, "frontends": fronts, "graphs": graphs,
            "quantize": quantize,
            "source": {"digests": source_digests(d, cfg)},
            "exported_with": {"escucha": __version__, "torch": torch.__version__.split("+")[0],
                              "onnx": onnx.__version__, "opset": OPSET},
        }
        atomic_write_json(tmp / "config.json", export_cfg)
        _check_parity(predictor, tmp, report, quantized=any(g.precision != "fp32" for g in report.graphs))
        export_cfg["parity"] = {"max_abs_diff": report.max_abs_diff, "labels_agree": report.labels_agree,
                                "spectrogram_max_abs_diff": report.spectrogram_max_abs_diff,
                                "on": "probe signals of 1.0, 2.7 and 4.3 s (the last telephone-band)"}
        atomic_write_json(tmp / "config.json", export_cfg)
        from ..inference.priors import CALIBRATION_FILE

        if (d / CALIBRATION_FILE).is_file():  # an export copied elsewhere keeps its deployment settings
            shutil.copy2(d / CALIBRATION_FILE, tmp / CALIBRATION_FILE)
        swap_folder(tmp, out, old=tmp.with_name(tmp.name.replace(".new-", ".old-", 1)) if replace else None)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return report


def _calibration_waves(predictor, paths) -> tuple[int, list[np.ndarray]]:
    """``(rate, preprocessed waveforms at the model's rate)`` for static quantisation (at most
    64 files)."""
    from ..cli.predict import expand_inputs

    files, _ = expand_inputs([str(p) for p in paths])
    waves = []
    for f in files[:64]:
        waves.append(predictor.load(f))
    if not waves:
        raise ConfigError("no calibration audio found")
    return predictor.sample_rate, waves


def _member_waves(m, calib_waves: tuple[int, list[np.ndarray]]) -> list[np.ndarray]:
    from ..audio import resample

    rate, waves = calib_waves
    return [resample(y, rate, m.sample_rate) for y in waves]


def _torch_features(m, waves: list[np.ndarray]) -> list[np.ndarray]:
    """What the member's network takes, per waveform (windows for windowed models)."""
    import torch

    from ..inference.base import clip_windows

    out = []
    with torch.inference_mode():
        for y in waves:
            x = clip_windows(y, m.clip_samples) if m.clip_samples else y[None]
            out.append(m.frontend(torch.from_numpy(np.ascontiguousarray(x))).numpy())
    return out


def _finish_graph(path: Path, role: str, report: ExportReport, *, quantize: str, probe: np.ndarray,
                  calib: list[np.ndarray] | None = None, closed_form_head: bool = False) -> None:
    """Record ``path``; with ``quantize``, replace it by its int8 version where that is faster.
    Closed-form heads stay fp32 whatever the timing: they cost microseconds, and int8 weights on
    standardised features flip answers (an adapted head's input affine, above all)."""
    g = GraphReport(file=path.name, role=role, precision="fp32", bytes=path.stat().st_size)
    if closed_form_head and quantize != "none":
        g.note = "a linear head: kept fp32"
    if quantize != "none" and role != "spectrogram" and not closed_form_head:
        q = path.with_name(path.stem + ".int8.onnx")
        try:
            _quantize(path, q, quantize, calib)
        except Exception as e:  # a graph onnxruntime cannot quantise stays fp32
            g.note = f"not quantised ({type(e).__name__}: {str(e).splitlines()[0][:80] if str(e) else ''})"
            q.unlink(missing_ok=True)
        else:
            g.ms_fp32, g.ms_int8 = _time_graph(path, probe), _time_graph(q, probe)
            if g.ms_int8 <= INT8_MAX_TIME_RATIO * g.ms_fp32:
                os.replace(q, path)
                g.precision, g.bytes = f"int8-{quantize}", path.stat().st_size
            else:
                q.unlink()
                g.note = "int8 not faster: kept fp32"
    report.graphs.append(g)


def _export_frontend(m, j: int, tmp: Path, report: ExportReport, *, quantize: str, calib_waves, spectrograms: bool
                     ) -> dict:
    import torch

    from ..features.spectral import whisper_log_mel
    from .graphs import EncoderGraph, SpectrogramGraph, WhisperPooledGraph

    c = m.feature_config
    fe = {"features": c.to_dict(), "encoder": None, "spectrogram": None, "computed_by": "numpy"}
    probe = probe_signals(m.sample_rate)[1][None]
    if c.kind in ("logmel", "mfcc", "whisper") and spectrograms:
        name = f"frontend-{j}-spectrogram.onnx"
        _onnx_export(SpectrogramGraph(c, whisper=c.kind == "whisper"), (torch.from_numpy(probe),), tmp / name,
                     input_name="waveform", output_name="features", dynamic={0: "batch", 1: "samples"})
        _finish_graph(tmp / name, "spectrogram", report, quantize="none", probe=probe)
        fe["spectrogram"] = name
    if c.kind == "whisper":
        from ..features.whisper import load_whisper_encoder

        name = f"frontend-{j}-encoder.onnx"
        mel = whisper_log_mel(probe)
        _onnx_export(WhisperPooledGraph(load_whisper_encoder(c.encoder_path), c.whisper_layers, c.pool_floor_db),
                     (torch.from_numpy(mel),), tmp / name, input_name="mel", output_name="features",
                     dynamic={0: "batch", 2: "frames"})
        calib = None
        if calib_waves is not None:
            calib = [whisper_log_mel(y[None]) for y in _member_waves(m, calib_waves)]
        _finish_graph(tmp / name, "encoder", report, quantize=quantize, probe=mel, calib=calib)
        fe.update(encoder=name, computed_by="onnx")
    elif c.kind == "encoder":
        name = f"frontend-{j}-encoder.onnx"
        _onnx_export(EncoderGraph(m.frontend), (torch.from_numpy(probe),), tmp / name, input_name="waveform",
                     output_name="features", dynamic={0: "batch", 1: "samples"})
        calib = [y[None] for y in _member_waves(m, calib_waves)] if calib_waves is not None else None
        _finish_graph(tmp / name, "encoder", report, quantize=quantize, probe=probe, calib=calib)
        fe.update(encoder=name, computed_by="onnx")
    elif c.kind == "egemaps":
        fe["computed_by"] = "opensmile"
    return fe


def _export_member(m, name: str, tmp: Path, report: ExportReport, *, quantize: str, calib_waves) -> None:
    import torch

    from .graphs import MeanSoftmax

    feats = _torch_features(m, [probe_signals(m.sample_rate)[1]])[0][:1]
    dynamic = {0: "batch"} if m.feature_config.kind in ("egemaps", "whisper") else {0: "batch", 2: "frames"}
    _onnx_export(MeanSoftmax(m.models), (torch.from_numpy(feats),), tmp / name, input_name="features",
                 output_name="probabilities", dynamic=dynamic)
    calib = None
    if calib_waves is not None:
        calib = [f[:1] for f in _torch_features(m, _member_waves(m, calib_waves))]
    head = all(getattr(mod, "closed_form", False) for mod in m.models)  # linear heads (whisper-lr, eGeMAPS + SVM)
    _finish_graph(tmp / name, "member", report, quantize=quantize, probe=feats, calib=calib, closed_form_head=head)


def _check_parity(predictor, folder: Path, report: ExportReport, *, quantized: bool) -> None:
    """Run the export on ONNX Runtime against ``predictor`` (torch) on the probe signals."""
    from ..features.spectral import spectral_features, whisper_log_mel
    from ..runtime.predictor import load_export
    from ..runtime.sessions import session

    onnx_pred = load_export(folder)
    waves = [predictor.prepare(y, predictor.sample_rate) for y in probe_signals(predictor.sample_rate)]
    p_torch = predictor.predict_proba_waveforms(waves)
    p_onnx = onnx_pred.predict_proba_waveforms(waves)
    report.max_abs_diff = float(np.abs(p_torch - p_onnx).max())
    report.labels_agree = float(np.mean(p_torch.argmax(1) == p_onnx.argmax(1)))
    cfg = json.loads((folder / "config.json").read_text())
    diffs = []
    for fe in cfg["frontends"]:
        if fe.get("spectrogram"):
            from ..features.config import FeatureConfig

            c = FeatureConfig.from_dict(fe["features"])
            y = waves[1][None]
            ref = whisper_log_mel(y) if c.kind == "whisper" else spectral_features(y, c)
            s = session(folder / fe["spectrogram"], 1)
            got = s.run(None, {s.get_inputs()[0].name: y})[0]
            diffs.append(float(np.abs(got - ref).max()))
    report.spectrogram_max_abs_diff = max(diffs) if diffs else None
    if not quantized and not report.max_abs_diff <= PARITY_ATOL:
        raise ModelError(f"{folder}: ONNX Runtime's probabilities differ from torch's by {report.max_abs_diff:.2e} "
                         f"(more than {PARITY_ATOL:g}) on the probe signals; the export is not written")
