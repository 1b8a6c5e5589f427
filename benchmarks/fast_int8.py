"""The fast model's shipped int8 ONNX export against its fp32 torch model on 200 RAVDESS + 200 SAVEE
clips (seed 0): how often they give the same label, and the largest probability difference.

    ESCUCHA_PROGRESS=0 python benchmarks/fast_int8.py

These speakers are in the model's training data: this measures what int8 changes, not accuracy.
"""
import sys, numpy as np
from pathlib import Path
REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / 'src'))
import escucha
from escucha.corpora import scan_corpora
recs = scan_corpora([str(REPO.parent / 'shared' / 'data' / 'ravdess'), str(REPO.parent / 'shared' / 'data' / 'savee')])
rng = np.random.default_rng(0)
pick = []
for c in ('ravdess', 'savee'):
    idx = [i for i, r in enumerate(recs) if r.corpus == c]
    pick += [recs[i] for i in rng.choice(idx, 200, replace=False)]
t, o = escucha.load_model('fast', runtime='torch'), escucha.load_model('fast', runtime='onnx')
same, d = 0, []
for r in pick:
    a, b = t.predict(r.path), o.predict(r.path)
    same += a.label == b.label
    d.append(np.abs(a.probabilities_array(t.labels) - b.probabilities_array(t.labels)).max())
print(f'same label {same}/{len(pick)} = {same/len(pick):.3f}; max dp {max(d):.3f}, median {np.median(d):.4f}')
