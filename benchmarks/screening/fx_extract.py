import sys, time, numpy as np
sys.path.insert(0, __import__('os').path.join(__import__('os').path.dirname(__file__), '..', '..', 'src')); sys.path.insert(0, __import__('os').path.dirname(__file__))
from escucha.audio import load_audio
from escucha.data.waveforms import PreprocessConfig, preprocess
from functionals import functionals, N_FUNCTIONALS
W=np.load('/tmp/exp/whisper.npz')
cfg=PreprocessConfig(sample_rate=16000, trim_db=None, loudness_db=-23.0)
X=[]; t0=time.time(); tf=0
for i,p in enumerate(W['path']):
    y,_=load_audio(str(p), sample_rate=16000); y=preprocess(y,16000,cfg,name=p)
    t=time.perf_counter(); X.append(functionals(y)[0,:,0]); tf+=time.perf_counter()-t
    if i%500==0: print(i, time.time()-t0, tf/(i+1)*1000, 'ms', flush=True)
np.savez('/tmp/exp/fx.npz', X=np.stack(X))
print('done', time.time()-t0, tf/len(X)*1000,'ms/clip')
