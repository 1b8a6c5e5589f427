import sys, re, glob, os, time, numpy as np, torch
sys.path.insert(0, __import__('os').path.join(__import__('os').path.dirname(__file__), '..', '..', 'src'))
torch.set_num_threads(1)
from escucha.corpora import scan_ravdess, scan_emodb
from escucha.audio import load_audio
from escucha.data.waveforms import PreprocessConfig, preprocess
from escucha.features.whisper import load_whisper_encoder, pooled_states
SH=__import__('os').path.join(__import__('os').path.dirname(__file__), '..', '..', '..', 'shared', 'data')
recs=[]
for r in scan_ravdess(SH+'/ravdess'): recs.append((r.path,'ravdess',r.speaker,r.emotion))
for r in scan_emodb(SH+'/emodb'):
    if r.emotion!='boredom': recs.append((r.path,'emodb',r.speaker,r.emotion))
M={'a':'angry','d':'disgust','f':'fearful','h':'happy','n':'neutral','sa':'sad','su':'surprised'}
for f in sorted(glob.glob(SH+'/savee/ALL/*.flac')):
    m=re.match(r'([A-Z]+)_([a-z]+)\d+',os.path.basename(f)); recs.append((f,'savee',m.group(1),M[m.group(2)]))
print(len(recs))
part=sys.argv[1]  # whisper | egemaps | tel
enc=load_whisper_encoder()
cfg=PreprocessConfig(sample_rate=16000, trim_db=None, loudness_db=-23.0)
smile=None
if part=='egemaps':
    import opensmile; smile=opensmile.Smile(feature_set=opensmile.FeatureSet.eGeMAPSv02, feature_level=opensmile.FeatureLevel.Functionals)
rng=np.random.default_rng(0)
if part.startswith('tel'):
    from escucha.train import augment
X=[]; t0=time.time()
for i,(p,c,s,e) in enumerate(recs):
    y,_=load_audio(p, sample_rate=16000)
    if part.startswith('tel'):
        y = augment.telephone_channel(torch.from_numpy(y)[None], 16000)[0].numpy()
    y=preprocess(y,16000,cfg,name=p)
    if part in ('whisper','tel'):
        with torch.inference_mode(): X.append(pooled_states(enc, torch.from_numpy(y)[None])[0].numpy())
    else:
        X.append(smile.process_signal(y,16000).to_numpy()[0])
    if i%200==0: print(i, time.time()-t0, flush=True)
np.savez(f'/tmp/exp/{part}.npz', X=np.stack(X), corpus=[r[1] for r in recs], speaker=[r[2] for r in recs], emotion=[r[3] for r in recs], path=[r[0] for r in recs])
print('done', time.time()-t0)
