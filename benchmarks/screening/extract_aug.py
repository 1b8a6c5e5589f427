import sys, time, numpy as np, torch
sys.path.insert(0, __import__('os').path.join(__import__('os').path.dirname(__file__), '..', '..', 'src'))
torch.set_num_threads(1)
from escucha.audio import load_audio
from escucha.data.waveforms import PreprocessConfig, preprocess
from escucha.features.whisper import load_whisper_encoder, pooled_states
from escucha.train.augment import augment_waveforms, telephone_channel
from escucha.train.config import AugmentConfig
base=np.load('/tmp/exp/whisper.npz'); paths=base['path']
mode=sys.argv[1]; seed=int(sys.argv[2])
enc=load_whisper_encoder(); cfg=PreprocessConfig(sample_rate=16000, trim_db=None, loudness_db=-23.0)
acfg=AugmentConfig(gain_db=6, noise_prob=0.5, snr_db=(10.0,35.0), speed_prob=0.5, speed_range=(0.9,1.1), reverb_prob=0.5, rt60_range=(0.1,0.7), telephone_prob=0.15)
g=torch.Generator().manual_seed(seed); rng=np.random.default_rng(seed)
def tilt(y):
    Y=np.fft.rfft(y); f=np.fft.rfftfreq(len(y),1/16000); oct=np.log2(np.maximum(f,50)/1000)
    db=rng.uniform(-4,4)*oct + rng.uniform(-6,6)*np.exp(-0.5*((np.log2(np.maximum(f,50))-np.log2(rng.uniform(300,5000)))/0.7)**2)
    if rng.random()<0.3: db += np.where(f<rng.uniform(80,300),-20,0)
    return np.fft.irfft(Y*10**(db/20),n=len(y)).astype(np.float32)
X=[]; t0=time.time()
for i,p in enumerate(paths):
    y,_=load_audio(p, sample_rate=16000)
    if mode=='aug':
        y=tilt(y); y=augment_waveforms(torch.from_numpy(y)[None],16000,acfg,g)[0].numpy()
    else:
        y=telephone_channel(torch.from_numpy(y)[None],16000, law='mu' if i%2 else 'a')[0].numpy()
    y=preprocess(np.clip(y,-1,1),16000,cfg,name=p)
    with torch.inference_mode(): X.append(pooled_states(enc, torch.from_numpy(y)[None])[0].numpy())
    if i%500==0: print(i,time.time()-t0,flush=True)
np.savez(f'/tmp/exp/{mode}{seed}.npz', X=np.stack(X))
print('done',time.time()-t0)
