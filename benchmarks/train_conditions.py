#!/usr/bin/env python3
"""Which listening conditions should the recipe train on? Measured leave-one-corpus-out.

Every clip of the shared corpora is heard under each condition of
:data:`escucha.train.conditions.CONDITIONS` (the clip as recorded, cut to its speech the way
``analyze`` cuts it, telephone lines, codecs, a room) and summarised by the recipe's frontend
(Whisper tiny.en layers 1-3, mean + std over the frames within ``pool_floor_db`` of the loudest,
as configs/whisper-lr.json sets it; cached on disk, so reruns are quick). Then, for each
held-out corpus, logistic regressions (the recipe's model) are trained on the other corpora
under a *training set* of conditions and judged on the held-out corpus as a user meets it:

- ``clip``: the clip as recorded (``escucha predict DIR``);
- ``cut``: the clip cut to its speech (a turn of a wide-band call in ``analyze``);
- ``telephone-mu``: through a G.711 mu-law line, then cut (a turn of a telephone call).

Two members as the bundle has them: a wide member and a telephone member (alone for narrow-band
input). Full-band input gets the wide member alone with ``--routing split`` (the shipped bundle
since December 2026) or the average of both (``average``, the default here, as the bundle was
before). ``--C``, ``--balance corpus``, ``--pca K`` and ``--nap K`` (remove the K directions that tell
corpora, or with ``--nap-by speaker`` speakers, apart within a class) change the regression; ``--max-seconds``
the fast frontend's window; ``--tests`` how the held-out clips are heard (``room``: reverberation and
noise, then cut); ``--speaker-folds CORPUS`` holds out half of one corpus's speakers at a time
instead of a whole corpus (unseen speakers of a known corpus). Printed per training
set: UAR per test condition (mean over held-out corpora), the neutral false-alarm rate (share of
held-out neutral clips given another emotion) and arousal UAR; ``--out`` keeps the out-of-fold
probabilities for calibration (benchmarks/calibration.py).

    python benchmarks/train_conditions.py [--data DIR ...] [--threads 2] [--out runs/conditions]
        [--tests clip cut telephone-mu room] [--speaker-folds ravdess]
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "src"))

from escucha.audio import load_audio, normalize_loudness, trim_silence  # noqa: E402
from escucha.corpora import scan_corpora  # noqa: E402
from escucha.labels import HIGH_AROUSAL  # noqa: E402
from escucha.train.conditions import CONDITIONS, listen  # noqa: E402
from escucha.train.config import load_config  # noqa: E402
from escucha.train.prepare import corpus_class_weights, labels_for  # noqa: E402
from escucha.utils.progress import progress  # noqa: E402

TESTS = ("clip", "cut", "telephone-mu")
#: training sets to compare, by name (see parse_set): "wide member's conditions | telephone member's"
TRAIN_SETS = (
    "clip | telephone-mu",
    "cut | telephone-mu",
    "clip+cut | telephone-mu",
    "clip+cut | telephone-mu+a",
    "clip+cut+room | telephone-mu",
    "clip+cut+room-mild | telephone-mu",
    "clip+cut+opus | telephone-mu+a",
    "clip+cut+room | telephone-mu+a",
    "clip+cut+opus+room | telephone-mu+a",
    "clip+cut | telephone-mu+a+clip+cut",
)


def parse_set(name: str):
    """A training set's name -> (wide member's conditions, telephone member's conditions or None),
    each a list of ``(condition, weight)``: ``"clip+cut+room-mild@0.5 | telephone-mu"`` hears every
    clip as recorded, cut, and in a room, the room copies weighing half as much as the others;
    ``"telephone-mu+a"`` is short for ``"telephone-mu+telephone-a"``."""
    def member(part):
        conds = []
        for c in part.split("+"):
            c, _, w = c.strip().partition("@")
            if c not in CONDITIONS and f"telephone-{c}" in CONDITIONS:   # "telephone-mu+a": both laws
                c = f"telephone-{c}"
            conds.append((c, float(w) if w else 1.0))
        return conds
    wide, _, tel = name.partition("|")
    return member(wide), (member(tel) if tel.strip() else None)


#: the fast model's training sets: one member answers every input
FAST_SETS = (
    "fast: clip",
    "fast: clip+telephone-mu",
    "fast: clip+cut+telephone-mu+a",
)
_ENCODER = None


def _hear(job) -> np.ndarray:
    """One clip under one condition -> pooled features (the bundled model's int8 ONNX encoder,
    what users' predictions run; the recipe's torch encoder gives the same summaries to ~1e-2)."""
    global _ENCODER
    path, condition, seed, loudness_db, model, floor_db, encoder, layers, trim_db, max_seconds = job
    if _ENCODER is None and (floor_db is not None or encoder or max_seconds):   # the recipe's torch frontend
        import torch

        from escucha.features import FeatureConfig, FeatureExtractor
        from escucha.models.whisper_lr import DEFAULT_LAYERS

        torch.set_num_threads(1)
        fe = FeatureExtractor(FeatureConfig(kind="whisper", whisper_layers=layers or DEFAULT_LAYERS,
                                            pool_floor_db=floor_db, encoder_path=encoder, max_seconds=max_seconds))
        _ENCODER = type("TorchFrontend", (), {"features": staticmethod(lambda w: fe(torch.from_numpy(w)).numpy())})()
    if _ENCODER is None:
        from escucha.inference import load_model

        m = load_model(model, calibrate=False)
        _ENCODER = m.members[0] if hasattr(m, "members") else m
    y, _ = load_audio(path, sample_rate=16000)
    if trim_db is not None:   # the recipe's preprocessing, before any listening condition
        y, _ = trim_silence(y, top_db=trim_db)
    z = listen(y, condition, rng=np.random.default_rng(seed))
    z = normalize_loudness(z, target_db=loudness_db).astype(np.float32)
    return _ENCODER.features(z[None]).reshape(-1)


def features(records, condition: str, loudness_db: float, out: Path, workers: int, model: str,
             floor_db: float | None = None, encoder: str | None = None, layers: tuple | None = None,
             trim_db: float | None = None, max_seconds: float | None = None) -> np.ndarray:
    """Pooled features of every record under ``condition``, kept in ``out/[fast-]feats-CONDITION.npy``."""
    from multiprocessing import get_context

    tag = feature_tag(floor_db, encoder, layers, trim_db, max_seconds)
    f = out / f"{'fast-' if model == 'fast' else ''}feats-{condition}{tag}.npy"
    if f.is_file():
        return np.load(f)
    jobs = [(r.path, condition, i, loudness_db, model, floor_db, encoder, layers, trim_db, max_seconds)
            for i, r in enumerate(records)]
    with get_context("spawn").Pool(workers) as pool:
        X = np.stack(list(progress(pool.imap(_hear, jobs, chunksize=16), total=len(jobs), desc=f"hear {condition}",
                                   unit="clip")))
    np.save(f, X)
    return X


def feature_tag(floor_db, encoder=None, layers=None, trim_db=None, max_seconds=None) -> str:
    """What the cached features' file names add for a frontend other than the installed model's."""
    tag = "" if trim_db is None else f"-trim{trim_db:g}"
    tag += "" if max_seconds is None else f"-win{max_seconds:g}"
    tag += "" if floor_db is None else f"-floor{floor_db:g}"
    if encoder:
        tag += f"-{Path(encoder).name}-L{''.join(str(i) for i in layers or ())}"
    elif layers:
        tag += f"-L{''.join(str(i) for i in layers)}"
    return tag


def nuisance_directions(Z, y, groups, k: int) -> np.ndarray:
    """The ``k`` directions (rows, orthonormal) along which the groups' means of each class differ
    from that class's mean: what tells corpora (or speakers) apart once the emotion is fixed. A
    nuisance attribute projection removes them (``Z - Z @ U.T @ U``), a linear map that folds into
    a linear head as the PCA does."""
    dev = []
    for c in np.unique(y):
        mc = y == c
        mu = Z[mc].mean(0)
        for g in np.unique(groups[mc]):
            mg = mc & (groups == g)
            if mg.sum() >= 2:
                dev.append(Z[mg].mean(0) - mu)
    _, _, vt = np.linalg.svd(np.asarray(dev), full_matrices=False)
    return vt[:k]


def fit_mlp(Z, y, sample_weight=None, hidden: int = 256, epochs: int = 30, seed: int = 0):
    """A one-hidden-layer network on standardised ``Z`` (dropout, weight decay, class-balanced loss
    times ``sample_weight``), a screening alternative to the logistic regression; returns
    ``predict_proba`` over the classes seen, in ``np.unique(y)`` order."""
    import torch

    torch.manual_seed(seed)
    classes = np.unique(y)
    yi = np.searchsorted(classes, y)
    w = np.ones(len(y)) if sample_weight is None else np.asarray(sample_weight, float)
    counts = np.bincount(yi, weights=w, minlength=len(classes))
    w = w * (w.sum() / (len(classes) * counts))[yi]   # class-balanced, as class_weight="balanced"
    net = torch.nn.Sequential(torch.nn.Dropout(0.2), torch.nn.Linear(Z.shape[1], hidden), torch.nn.GELU(),
                              torch.nn.Dropout(0.5), torch.nn.Linear(hidden, len(classes)))
    opt = torch.optim.AdamW(net.parameters(), lr=1e-3, weight_decay=0.05)
    Zt, yt, wt = torch.from_numpy(Z.astype(np.float32)), torch.from_numpy(yi), torch.from_numpy(w.astype(np.float32))
    g = torch.Generator().manual_seed(seed)
    for _ in range(epochs):
        net.train()
        for b in torch.randperm(len(Zt), generator=g).split(256):
            loss = (torch.nn.functional.cross_entropy(net(Zt[b]), yt[b], reduction="none") * wt[b]).mean()
            opt.zero_grad()
            loss.backward()
            opt.step()
    net.eval()

    def proba(Zq):
        with torch.no_grad():
            return torch.softmax(net(torch.from_numpy(Zq.astype(np.float32))), 1).numpy()
    return classes, proba


def fit(X, y, C: float = 0.1, sample_weight=None, pca: int | None = None, nap: int | None = None, groups=None,
        head: str = "linear"):
    """The recipe's model on ``X``: standardise, [project on ``pca`` whitened principal
    components,] class-balanced multinomial logistic regression (``sample_weight``: times these
    weights, as ``escucha train`` with ``balance: corpus``), as
    :class:`escucha.models.whisper_lr.WhisperLinear` fits it; returns
    ``predict_proba(Xt) -> (N, len(LABELS))``."""
    from sklearn.linear_model import LogisticRegression

    mean, scale = X.mean(0), X.std(0) + 1e-6
    Z = (X - mean) / scale
    project = lambda z: z  # noqa: E731
    if nap:
        U = nuisance_directions(Z, y, groups, nap)
        project = lambda z: z - (z @ U.T) @ U  # noqa: E731
    if pca:
        from sklearn.decomposition import PCA

        p = PCA(pca, whiten=True, random_state=0).fit(Z)
        project = p.transform
    if head == "mlp":
        classes, predict_proba = fit_mlp(project(Z), y, sample_weight)
    else:
        clf = LogisticRegression(C=C, max_iter=3000, class_weight="balanced")
        clf.fit(project(Z), y, sample_weight=sample_weight)
        classes, predict_proba = clf.classes_, clf.predict_proba

    def proba(Xt, own=False):
        """``own``: standardise ``Xt`` by its own statistics, as ``escucha adapt`` does."""
        m, sd = (Xt.mean(0), Xt.std(0) + 1e-6) if own else (mean, scale)
        P = np.zeros((len(Xt), len(LABELS)))
        P[:, classes] = predict_proba(project((Xt - m) / sd))
        return P
    return proba


def uar(truth, pred, present) -> float:
    return float(np.mean([np.mean(pred[truth == c] == c) for c in present]))


def main(argv=None) -> int:
    global LABELS
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    shared = REPO.parent / "shared" / "data"
    ap.add_argument("--data", nargs="+", default=[str(shared / c) for c in ("ravdess", "emodb", "savee", "nemo", "korean")])
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--sets", nargs="*", default=None, help="training-set names to run (default: all)")
    ap.add_argument("--out", default=str(REPO / "runs" / "conditions"))
    ap.add_argument("--force", action="store_true", help="fit a training set again even if its answers are kept")
    ap.add_argument("--adapt", action="store_true",
                    help="standardise each held-out corpus by its own statistics (what `escucha adapt` does)")
    ap.add_argument("--model", choices=("default", "fast"), default="default",
                    help="whose frontend hears the clips: the default model's (two members) or the fast one's")
    ap.add_argument("--floor-db", type=float, default=None,
                    help="hear with the recipe's torch frontend pooling only the frames within this many dB of "
                         "the loudest (FeatureConfig.pool_floor_db; default: configs/whisper-lr.json's)")
    ap.add_argument("--encoder", help="another converted Whisper encoder folder (e.g. Whisper base: "
                                      "scripts/convert_whisper.py), heard by the torch frontend")
    ap.add_argument("--layers", help="the encoder states pooled, e.g. 1,2,3,4 (default: the recipe's 1,2,3)")
    ap.add_argument("--routing", choices=("average", "split"), default="average",
                    help="full-band input: both members averaged (bands wide + any; default) or the wide member "
                         "alone (bands wide + narrow); telephone-band input always gets the telephone member")
    ap.add_argument("--tel-weight", type=float, default=0.5,
                    help="with --routing average: the telephone member's share of full-band answers (default 0.5)")
    ap.add_argument("--C", type=float, default=None, help="logistic regression's C (default: the recipe's)")
    ap.add_argument("--pca", type=int, default=None,
                    help="whitened principal components the regression sees (0: none; default: the recipe's)")
    ap.add_argument("--nap", type=int, default=None, metavar="K",
                    help="remove the K directions that tell --nap-by groups apart within a class before the "
                         "regression (nuisance attribute projection; not with --pca)")
    ap.add_argument("--nap-by", choices=("corpus", "speaker"), default="corpus")
    ap.add_argument("--head", choices=("linear", "mlp"), default="linear",
                    help="the classifier on the pooled states: the recipe's logistic regression, or (screening) "
                         "a one-hidden-layer network")
    ap.add_argument("--balance", choices=("weights", "corpus"), default=None,
                    help="class-balanced weights (weights), or every (corpus, class) cell weighing the same "
                         "(corpus, as escucha train's balance: corpus); default: the recipe's")
    ap.add_argument("--tests", nargs="+", default=list(TESTS),
                    help="how each held-out corpus is heard (conditions of escucha.train.conditions; default: "
                         "clip cut telephone-mu; e.g. add room: reverberation and noise, then cut)")
    ap.add_argument("--speaker-folds", metavar="CORPUS",
                    help="instead of leaving a corpus out, leave out half of CORPUS's speakers (two folds; every "
                         "other corpus in training): unseen speakers of a known corpus, e.g. RAVDESS actors 21-24")
    ap.add_argument("--folds", type=int, default=2, help="with --speaker-folds: how many (default 2; every k-th "
                                                          "speaker in a fold)")
    ap.add_argument("--max-seconds", type=float, default=None,
                    help="hear only the loudest this many seconds of each input, with the torch frontend "
                         "(FeatureConfig.max_seconds; the fast model's frontend variants)")
    args = ap.parse_args(argv)
    for t in args.tests:
        if t not in CONDITIONS:
            ap.error(f"--tests: unknown condition {t!r}; known: {', '.join(CONDITIONS)}")
    tests = tuple(args.tests)
    import torch

    torch.set_num_threads(args.threads)
    cfg = load_config(REPO / "configs" / "whisper-lr.json", threads=args.threads)
    floor_db = args.floor_db
    if floor_db is None and args.model == "default":   # the recipe's frontend, not the installed model's
        floor_db = (cfg.features or {}).get("pool_floor_db")
    records = scan_corpora(args.data)
    LABELS = labels_for(records)
    y = np.array([LABELS.index(r.emotion) for r in records])
    corpus = np.array([r.corpus for r in records])
    corpora = sorted(set(corpus))
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    all_sets = FAST_SETS if args.model == "fast" else TRAIN_SETS
    sets = {}   # the listed sets, or any set written as its name: "clip+cut+room-mild@0.5 | telephone-mu"
    for k in all_sets if args.sets is None else args.sets:
        try:
            sets[k] = parse_set(k.removeprefix("fast:").strip())
        except ValueError:
            ap.error(f"--sets: {k!r} is not CONDITION[@WEIGHT]+... [| CONDITION[@WEIGHT]+...]")
    needed = list(tests) + sorted({c for w, t in sets.values() for c, _ in w + (t or [])} - set(tests))
    for c in needed:
        if c not in CONDITIONS:
            ap.error(f"--sets: unknown condition {c!r}; known: {', '.join(CONDITIONS)}")
    layers = tuple(int(i) for i in args.layers.split(",")) if args.layers else None
    encoder = args.encoder
    if encoder is None and args.model == "default":   # the recipe's encoder, as its config names it
        encoder = (cfg.features or {}).get("encoder_path")
        layers = layers or tuple((cfg.features or {}).get("whisper_layers") or ()) or None
    if encoder:
        from escucha.features.config import whisper_dir

        encoder = str(whisper_dir(encoder))
    trim_db = cfg.trim_db if args.model == "default" else None
    max_seconds = args.max_seconds
    if args.model == "fast" and (floor_db is not None or encoder or layers or max_seconds):
        # a variant of the fast frontend, heard by torch: the fast recipe's window and layer unless given
        fast = load_config(REPO / "configs" / "fast.json", threads=args.threads).features or {}
        max_seconds = max_seconds or fast.get("max_seconds")
        layers = layers or tuple(fast.get("whisper_layers") or ()) or None
    tag = feature_tag(floor_db, encoder, layers, trim_db, max_seconds)
    recipe = load_config(REPO / "configs" / ("fast.json" if args.model == "fast" else "whisper-lr.json"),
                         threads=args.threads)
    C = args.C if args.C is not None else float((recipe.model_args or {}).get("C", 0.1))
    balance = args.balance or recipe.balance
    pca = args.pca if args.pca is not None else (recipe.model_args or {}).get("pca")
    if args.nap and pca:
        ap.error("--nap and --pca: one projection at a time")
    fit_tag = (("" if args.C is None else f"-C{C:g}") + ("" if args.balance is None else f"-bal{balance}")
               + (f"-pca{pca}" if pca else "") + (f"-nap{args.nap}{args.nap_by}" if args.nap else "")
               + ("-mlp" if args.head == "mlp" else "")
               + ("-split" if args.routing == "split" else "")
               + (f"-tel{args.tel_weight:g}" if args.routing == "average" and args.tel_weight != 0.5 else ""))
    X = {}
    for c in needed:
        t0 = time.time()
        X[c] = features(records, c, cfg.loudness_db, out, args.threads, args.model, floor_db, encoder, layers, trim_db,
                        max_seconds)
        print(f"{c}: {X[c].shape} in {time.time() - t0:.0f} s", flush=True)
    # what each fold holds out: a whole corpus, or (--speaker-folds) half of one corpus's speakers
    speaker = np.array([r.speaker_key for r in records])
    groups = corpus if args.nap_by == "corpus" else speaker   # what --nap projects out
    if args.speaker_folds:
        if args.speaker_folds not in corpora:
            ap.error(f"--speaker-folds: {args.speaker_folds!r} is not among the corpora ({', '.join(corpora)})")
        spk = sorted(set(speaker[corpus == args.speaker_folds]))
        k_folds = args.folds
        test_rows = {f"{args.speaker_folds} {k + 1}/{k_folds}": np.isin(speaker, spk[k::k_folds]) for k in range(k_folds)}
    else:
        test_rows = {c: corpus == c for c in corpora}
    held_out = list(test_rows)
    neutral = LABELS.index("neutral")
    high = np.array([lab in HIGH_AROUSAL for lab in LABELS])
    # corpus-and-class balance: each corpus weighs the same, classes balanced inside it
    table, fitted = {}, {}

    def oof_file(name):
        slug = "".join(ch if ch.isalnum() else "-" for ch in name).strip("-")
        while "--" in slug:
            slug = slug.replace("--", "-")
        spk = (f"spk-{args.speaker_folds}{'' if args.folds == 2 else args.folds}-" if args.speaker_folds else "")
        return out / f"{'adapted-' if args.adapt else ''}{spk}oof-{slug}{tag}{fit_tag}.npz"
    for name, (wide, tel) in sets.items():
        if oof_file(name).is_file() and not args.force:
            print(f"{name}: kept from {oof_file(name)} (--force to fit again)")
            continue
        res = {t: {"uar": [], "fa": [], "arousal": []} for t in tests}
        oof = {t: np.zeros((len(records), len(LABELS))) for t in tests}
        for held in held_out:
            te = test_rows[held]
            tr = ~te
            members = {}
            for band, conds in (("wide", wide), ("tel", tel or wide)):
                key = (held, tuple(conds), args.model)
                if key not in fitted:  # members shared by several training sets are fitted once
                    idx = np.tile(np.flatnonzero(tr), len(conds))
                    w = corpus_class_weights(records, idx, y[idx]) if balance == "corpus" else None
                    weight = np.repeat([cw for _, cw in conds], tr.sum())   # each condition's weight
                    if (weight != 1).any():
                        w = weight * (1.0 if w is None else w)
                    fitted[key] = fit(np.concatenate([X[c][tr] for c, _ in conds]), y[idx], C=C, sample_weight=w,
                                      pca=pca, nap=args.nap, groups=groups[idx], head=args.head)
                members[band] = fitted[key]
            for t in tests:
                Pt = members["tel"](X[t][te], own=args.adapt)
                if "telephone" in t or tel is None:   # telephone-band input: the telephone member
                    P = Pt
                elif args.routing == "split":   # full-band input: the wide member alone
                    P = members["wide"](X[t][te], own=args.adapt)
                else:                           # full-band input: both members, weighted
                    P = (1 - args.tel_weight) * members["wide"](X[t][te], own=args.adapt) + args.tel_weight * Pt
                oof[t][te] = P
                truth, pred = y[te], P.argmax(1)
                present = sorted(set(truth))
                res[t]["uar"].append(uar(truth, pred, present))
                if neutral in present:
                    res[t]["fa"].append(float(np.mean(pred[truth == neutral] != neutral)))
                ha_t, ha_p = high[truth], P[:, high].sum(1) >= 0.5
                res[t]["arousal"].append(float(np.mean([np.mean(ha_p[ha_t] == 1), np.mean(ha_p[~ha_t] == 0)])))
        table[name] = {t: {k: (float(np.mean(v)), v) for k, v in res[t].items()} for t in tests}
        np.savez_compressed(oof_file(name), name=name, labels=LABELS, y=y, corpus=corpus,
                            speaker=np.array([r.speaker_key for r in records]),
                            **{t: oof[t] for t in tests})
        row = "  ".join(f"{t}: UAR {table[name][t]['uar'][0]:.3f} FA {table[name][t]['fa'][0]:.2f} "
                        f"ar {table[name][t]['arousal'][0]:.3f}" for t in tests)
        print(f"{name:44s} {row}", flush=True)
        print("    per corpus UAR " + " | ".join(
            f"{t}: " + " ".join(f"{c[:3] if c in corpora else c} {u:.2f}" for c, u in zip(held_out, table[name][t]['uar'][1]))
            for t in tests),
            flush=True)
    summary = (out / f"train_conditions{'-fast' if args.model == 'fast' else ''}{tag}{fit_tag}"
                     f"{'-adapted' if args.adapt else ''}"
                     f"{'-spk-' + args.speaker_folds + ('' if args.folds == 2 else str(args.folds)) if args.speaker_folds else ''}"
                     ".json")
    if summary.is_file():   # the sets of earlier runs stay beside this run's
        try:
            table = {**json.loads(summary.read_text()).get("table", {}), **table}
        except (ValueError, AttributeError):
            pass
    tmp = summary.with_suffix(".json.tmp")
    tmp.write_text(json.dumps({"corpora": corpora, "held_out": held_out, "labels": LABELS, "table": table}, indent=1))
    tmp.replace(summary)
    return 0


LABELS: list[str] = []

if __name__ == "__main__":
    sys.exit(main())
