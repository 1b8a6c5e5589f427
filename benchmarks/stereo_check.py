#!/usr/bin/env python3
"""Stereo without asking, checked: the channel judge (escucha.longaudio.stereo) on the calls of
benchmarks/speakers.py: their stereo files (parties on their own channels; a third party on
both) must be split, and their mono mixes stored twice (as is, and at half the level plus hiss
on one side) analysed once. Only the first DECIDE_AFTER seconds are judged, as in analyze.

    python benchmarks/stereo_check.py /tmp/spk6
"""
import sys
import glob

import numpy as np
import soundfile as sf

folder = sys.argv[1] if len(sys.argv) > 1 else '/tmp/spk6'
from escucha.longaudio.stereo import judge_channels, DECIDE_AFTER
res={}
for f in sorted(glob.glob(f'{folder}/*/*.mono.wav')):
    y,sr=sf.read(f,dtype='float32'); n=int(DECIDE_AFTER*sr); y=y[:n]
    line='telephone' if 'telephone' in f else 'wide'
    rng=np.random.default_rng(0)
    for kind,x in {'dual':np.stack([y,y],1),'dual-gain-noise':np.stack([y,0.5*y+1e-3*rng.standard_normal(len(y)).astype(np.float32)],1)}.items():
        res.setdefault((kind,line),[]).append(judge_channels(x,sr)[0])
    st,_=sf.read(f.replace('.mono.','.stereo.'),dtype='float32')
    res.setdefault(('two parties',line),[]).append(judge_channels(st[:n],sr)[0])
for k,v in sorted(res.items()): print(k, {m:v.count(m) for m in set(v)})
