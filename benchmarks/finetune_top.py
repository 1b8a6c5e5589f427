#!/usr/bin/env python3
"""Is fine-tuning the encoder worth it? A CPU-sized screen: the top Whisper block the recipe pools.

The bundled default model pools Whisper base states 1-4 (mean + std over speech frames) into a
logistic regression; the encoder stays frozen. Fine-tuning the whole encoder needs a GPU. This
screen measures the cheapest slice of it that runs on two CPU cores: **the last pooled block
(block 4) trained together with a linear head**, blocks 1-3 frozen. Block 3's frame states are
computed once (cached in ``--out``), so an epoch costs one block's forward and backward pass.

Two arms, trained the same way (AdamW, class-balanced cross-entropy, the same epochs, batches and
seed) on the same cached states, so that the only difference is whether block 4 learns:

- ``frozen``: block 4 as shipped, only the head learns on;
- ``tuned``: block 4 learns too (learning rate ``--block-lr``).

Both start from the shipped recipe's answer: the logistic regression fitted on the frozen states
(``C`` from configs/whisper-lr.json, whose L2 penalty the trained head keeps), then trained on
(linear probe, then fine-tune: Kumar et al. 2022, which keeps more of what the pretrained states
know out of distribution than training block and head from scratch).

Judged on a corpus left out of training, heard through a G.711 mu-law telephone line and cut to
its speech (``escucha.train.conditions``'s ``telephone-mu``: the telephone customers the part-9
issue is short of), every epoch printed: UAR over the held-out corpus's labels, neutral false
alarms, arousal UAR. The epoch count is fixed before looking (``--epochs``); the printout of every
epoch is for reading the trend, not for choosing one.

    python benchmarks/finetune_top.py --held-out nemo [--condition telephone-mu] [--epochs 4] [--out runs/finetune]
"""

from __future__ import annotations

import argparse
import copy
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
from escucha.train.prepare import labels_for  # noqa: E402
from escucha.utils.progress import progress  # noqa: E402

_ENC = None
TOP = 4   # the state index the recipe pools last: block 4's output (states[0] is the embedding)


def _states(job):
    """One clip -> (pooled states 1..TOP-1 (float32), block TOP-1's frame states (float16), speech-frame weights)."""
    global _ENC
    import torch

    from escucha.features.whisper import load_whisper_encoder, pool_mean_std, speech_frames, whisper_log_mel

    path, condition, seed, loudness_db, trim_db, floor_db = job
    if _ENC is None:
        torch.set_num_threads(1)
        _ENC = load_whisper_encoder("whisper-base")
    y, _ = load_audio(path, sample_rate=16000)
    y, _ = trim_silence(y, top_db=trim_db)
    z = normalize_loudness(listen(y, condition, rng=np.random.default_rng(seed)), target_db=loudness_db)
    with torch.no_grad():
        mel = whisper_log_mel(torch.from_numpy(z.astype(np.float32))[None])
        states = _ENC(mel, depth=TOP - 1)
        w = speech_frames(mel, floor_db)
        fixed = torch.cat([p for i in range(1, TOP) for p in pool_mean_std(states[i], w)], -1)
    return fixed[0].numpy(), states[TOP - 1][0].numpy().astype(np.float16), w[0].numpy().astype(bool)


def cached_states(records, condition, cfg, floor_db, out: Path, workers: int):
    f = out / f"states-{condition}-L{TOP - 1}.npz"
    if f.is_file():
        d = np.load(f)
        lens = d["lens"]
        cut = np.cumsum(lens)[:-1]
        return d["fixed"], np.split(d["frames"], cut), np.split(d["weights"], cut)
    from multiprocessing import get_context

    jobs = [(r.path, condition, i, cfg.loudness_db, cfg.trim_db, floor_db) for i, r in enumerate(records)]
    with get_context("spawn").Pool(workers) as pool:
        res = list(progress(pool.imap(_states, jobs, chunksize=8), total=len(jobs), desc=f"hear {condition}",
                            unit="clip"))
    fixed = np.stack([r[0] for r in res])
    frames, weights = [r[1] for r in res], [r[2] for r in res]
    tmp = out / (f.name + ".tmp.npz")
    np.savez(tmp, fixed=fixed, frames=np.concatenate(frames), weights=np.concatenate(weights),
             lens=np.array([len(w) for w in weights]))
    tmp.replace(f)
    return fixed, frames, weights


class TopHead:
    """Block TOP (a copy of the encoder's) on cached block TOP-1 states, pooled over speech frames,
    beside the fixed pooled states 1..TOP-1, standardised, into a linear layer."""

    def __init__(self, block, n_classes, mean, scale):
        import torch

        self.block = copy.deepcopy(block).requires_grad_(True)
        self.mean, self.scale = torch.from_numpy(mean), torch.from_numpy(scale)
        self.linear = torch.nn.Linear(len(mean), n_classes)

    def forward(self, fixed, x, keep, pad):
        """``x`` (B, T, D) padded frames, ``keep`` (B, T) speech frames to pool, ``pad`` (B, T) True on padding."""
        import torch

        blk = self.block
        b, t, d = x.shape
        q, k, v = blk.qkv(blk.attn_ln(x)).view(b, t, 3, blk.heads, d // blk.heads).permute(2, 0, 3, 1, 4)
        mask = (~pad)[:, None, None, :]   # attend to real frames only
        a = torch.nn.functional.scaled_dot_product_attention(q, k, v, attn_mask=mask)
        x = x + blk.out(a.transpose(1, 2).reshape(b, t, d))
        h = x + blk.fc2(torch.nn.functional.gelu(blk.fc1(blk.mlp_ln(x))))
        w = (keep & ~pad).float().unsqueeze(-1)
        n = w.sum(1)
        mean = (h * w).sum(1) / n
        std = (((h - mean.unsqueeze(1)).square() * w).sum(1) / n).sqrt()
        z = (torch.cat([fixed, mean, std], -1) - self.mean) / self.scale
        return self.linear(z)


def batch(idx, fixed, frames, weights):
    import torch

    T = max(len(frames[i]) for i in idx)
    D = frames[idx[0]].shape[1]
    x = np.zeros((len(idx), T, D), np.float32)
    keep = np.zeros((len(idx), T), bool)
    pad = np.ones((len(idx), T), bool)
    for j, i in enumerate(idx):
        n = len(frames[i])
        x[j, :n], keep[j, :n], pad[j, :n] = frames[i], weights[i], False
    return (torch.from_numpy(fixed[idx].astype(np.float32)), torch.from_numpy(x), torch.from_numpy(keep),
            torch.from_numpy(pad))


def batches(order, frames, size):
    """Batches of similar length (less padding), in a shuffled order of batches."""
    return [order[i:i + size] for i in range(0, len(order), size)]


def main(argv=None) -> int:
    import torch

    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    shared = REPO.parent / "shared" / "data"
    ap.add_argument("--data", nargs="+", default=[str(shared / c) for c in ("ravdess", "emodb", "savee", "nemo", "korean")])
    ap.add_argument("--held-out", nargs="+", default=["nemo"], help="corpora to leave out, one fold each")
    ap.add_argument("--cap", type=int, default=None, metavar="N",
                    help="train on at most N clips of each corpus (a seeded sample, every class kept; keeps an "
                         "epoch short where one corpus is most of the data: nEMO has 4481 clips)")
    ap.add_argument("--condition", default="telephone-mu", choices=list(CONDITIONS),
                    help="how every clip is heard, in training and test (default: the telephone line, cut)")
    ap.add_argument("--epochs", type=int, default=4, help="epochs (one-cycle schedule: warm-up, then cosine)")
    ap.add_argument("--batch", type=int, default=16)
    ap.add_argument("--block-lr", type=float, default=3e-5)
    ap.add_argument("--head-lr", type=float, default=1e-4)
    ap.add_argument("--C", type=float, default=None,
                    help="the head's L2 penalty as the logistic regression's C (default: configs/whisper-lr.json's), "
                         "so that the frozen arm fits the shipped recipe's regression")
    ap.add_argument("--arms", nargs="+", default=["frozen", "tuned"], choices=["frozen", "tuned"])
    ap.add_argument("--init", choices=("probe", "random"), default="probe",
                    help="the head the arms start from: the regression's (probe; linear probe, then fine-tune) or "
                         "random (plain fine-tuning; raise --head-lr)")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--out", default=str(REPO / "runs" / "finetune"))
    args = ap.parse_args(argv)
    torch.set_num_threads(args.threads)
    cfg = load_config(REPO / "configs" / "whisper-lr.json", threads=args.threads)
    floor_db = (cfg.features or {}).get("pool_floor_db")
    records = scan_corpora(args.data)
    labels = labels_for(records)
    y = np.array([labels.index(r.emotion) for r in records])
    corpus = np.array([r.corpus for r in records])
    for h in args.held_out:
        if h not in set(corpus):
            ap.error(f"--held-out: {h!r} is not among the corpora ({', '.join(sorted(set(corpus)))})")
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    t0 = time.time()
    fixed, frames, weights = cached_states(records, args.condition, cfg, floor_db, out, args.threads)
    print(f"states of {len(records)} clips ({args.condition}) in {time.time() - t0:.0f} s; "
          f"{sum(len(f) for f in frames) / len(frames):.0f} frames per clip", flush=True)
    results = {h: fold(h, args, cfg, records, labels, y, corpus, fixed, frames, weights, out) for h in args.held_out}
    print("\nafter the last epoch (UAR / neutral false alarms / arousal):")
    arms = list(next(iter(results.values())))
    print(f"{'held out':10s} " + " ".join(f"{a:>22s}" for a in arms))
    for h, r in results.items():
        print(f"{h:10s} " + " ".join(f"{r[a][0]:8.3f} {r[a][1]:6.2f} {r[a][2]:6.3f}" for a in arms))
    if len(results) > 1:
        print(f"{'mean':10s} " + " ".join(f"{np.mean([r[a][0] for r in results.values()]):8.3f} "
                                        f"{np.nanmean([r[a][1] for r in results.values()]):6.2f} "
                                        f"{np.mean([r[a][2] for r in results.values()]):6.3f}" for a in arms))
    return 0


def fold(held, args, cfg, records, labels, y, corpus, fixed, frames, weights, out) -> dict:
    """One held-out corpus: the regression, then each arm; ``{arm: (UAR, FA, arousal) after the last epoch}``."""
    import torch

    results = {}
    tr, te = np.flatnonzero(corpus != held), np.flatnonzero(corpus == held)
    if args.cap:
        rng = np.random.default_rng(0)
        tr = np.sort(np.concatenate([rng.permutation(tr[corpus[tr] == c])[:args.cap] for c in sorted(set(corpus[tr]))]))
    from escucha.features.whisper import load_whisper_encoder

    block = load_whisper_encoder("whisper-base").blocks[TOP - 1]
    # standardisation from the training clips as the shipped block hears them
    probe = TopHead(block, len(labels), np.zeros(1, np.float32), np.ones(1, np.float32))
    probe.linear = torch.nn.Identity()

    def pooled(rows):
        """The frozen states 1..TOP pooled, as the shipped recipe's frontend gives them, for ``rows``."""
        Z = np.zeros((len(rows), fixed.shape[1] + 2 * frames[0].shape[1]), np.float32)
        pos = {i: j for j, i in enumerate(rows)}
        with torch.no_grad():
            for b in batches(rows[np.argsort([len(frames[i]) for i in rows])], frames, 64):
                Z[[pos[i] for i in b]] = probe.forward(*batch(b, fixed, frames, weights)).numpy()
        return Z
    Z = pooled(tr)
    mean, scale = Z.mean(0).astype(np.float32), (Z.std(0) + 1e-6).astype(np.float32)
    classes = np.unique(y[tr])
    C = args.C if args.C is not None else float((cfg.model_args or {}).get("C", 0.1))
    counts = np.bincount(y[tr], minlength=len(labels)).astype(np.float32)
    cw = torch.from_numpy(np.where(counts > 0, counts.sum() / (len(classes) * np.maximum(counts, 1)), 0).astype(np.float32))
    neutral = labels.index("neutral")
    high = np.array([lab in HIGH_AROUSAL for lab in labels])
    present = sorted(set(y[te]))
    te_sorted = te[np.argsort([len(frames[i]) for i in te])]
    tr_sorted = tr[np.argsort([len(frames[i]) for i in tr])]

    def scores(P):
        """UAR over the held-out corpus's labels, neutral false alarms, arousal UAR of answers ``P``."""
        truth, pred = y[te], P.argmax(1)
        u = float(np.mean([np.mean(pred[truth == c] == c) for c in present]))
        fa = float(np.mean(pred[truth == neutral] != neutral)) if neutral in present else float("nan")
        ha_t, ha_p = high[truth], P[:, high].sum(1) >= 0.5
        return u, fa, float(np.mean([np.mean(ha_p[ha_t]), np.mean(~ha_p[~ha_t])]))

    def judge(model):
        model.block.eval()
        P = np.zeros((len(te), len(labels)), np.float32)
        pos = {i: j for j, i in enumerate(te)}
        with torch.no_grad():
            for b in batches(te_sorted, frames, 64):
                logits = model.forward(*batch(b, fixed, frames, weights))
                logits[:, [c for c in range(len(labels)) if c not in classes]] = -1e9
                P[[pos[i] for i in b]] = torch.softmax(logits, 1).numpy()
        return scores(P)

    print(f"held out {held} ({len(te)} clips), trained on {len(tr)} clips; {args.condition}; "
          f"{args.epochs} epochs, batch {args.batch}, block lr {args.block_lr:g}, head lr {args.head_lr:g}, C {C:g}", flush=True)
    # linear probe, then fine-tune (Kumar et al. 2022): the shipped recipe's regression first, the
    # trained arms start from its solution, so epoch 0 of every arm is the shipped recipe
    from sklearn.linear_model import LogisticRegression

    clf = LogisticRegression(C=C, max_iter=3000, class_weight="balanced").fit((Z - mean) / scale, y[tr])
    P = np.zeros((len(te), len(labels)))
    P[:, clf.classes_] = clf.predict_proba((pooled(te) - mean) / scale)
    u, fa, ar = scores(P)
    print(f"logistic regression on the frozen states (the shipped recipe): UAR {u:.3f}  FA {fa:.2f}  "
          f"arousal {ar:.3f}", flush=True)
    results["regression"] = (u, fa, ar)
    for arm in args.arms:
        torch.manual_seed(0)
        rng = np.random.default_rng(0)
        model = TopHead(block, len(labels), mean, scale)
        absent = [c for c in range(len(labels)) if c not in clf.classes_]   # classes the training corpora lack
        with torch.no_grad():
            if args.init == "probe":   # the regression's solution; else torch's default init
                model.linear.weight.zero_()
                model.linear.weight[clf.classes_] = torch.from_numpy(clf.coef_.astype(np.float32))
                model.linear.bias[clf.classes_] = torch.from_numpy(clf.intercept_.astype(np.float32))
            model.linear.bias[absent] = -20.0
        params = [{"params": model.linear.parameters(), "lr": args.head_lr, "weight_decay": 0.0}]
        if arm == "tuned":
            params.append({"params": model.block.parameters(), "lr": args.block_lr, "weight_decay": 0.01})
        else:
            model.block.requires_grad_(False)
        opt = torch.optim.AdamW(params)
        n_batches = -(-len(tr) // args.batch)
        sched = torch.optim.lr_scheduler.OneCycleLR(   # warm up, then cosine to ~0: the last epoch is settled
            opt, max_lr=[g["lr"] for g in params], total_steps=args.epochs * n_batches, pct_start=0.1)
        u, fa, ar = judge(model)
        print(f"{arm:6s} epoch 0: UAR {u:.3f}  FA {fa:.2f}  arousal {ar:.3f}  ({'the regression' if args.init == 'probe' else 'a random'} head)", flush=True)
        for ep in range(1, args.epochs + 1):
            t0 = time.time()
            model.block.train(arm == "tuned")
            bs = batches(tr_sorted, frames, args.batch)
            loss_sum = 0.0
            for k in rng.permutation(len(bs)):
                f, x, keep, pad = batch(bs[k], fixed, frames, weights)
                loss = torch.nn.functional.cross_entropy(model.forward(f, x, keep, pad), torch.from_numpy(y[bs[k]]),
                                                         weight=cw)
                # sklearn's objective divided by C * N: mean loss + |W|^2 / (2 C N)
                loss = loss + model.linear.weight.square().sum() / (2 * C * len(tr))
                opt.zero_grad()
                loss.backward()
                opt.step()
                sched.step()
                loss_sum += float(loss.detach()) * len(bs[k])
            u, fa, ar = judge(model)
            print(f"{arm:6s} epoch {ep}: UAR {u:.3f}  FA {fa:.2f}  arousal {ar:.3f}  train loss "
                  f"{loss_sum / len(tr):.3f}  ({time.time() - t0:.0f} s)", flush=True)
        results[arm] = (u, fa, ar)
    return results


if __name__ == "__main__":
    sys.exit(main())
