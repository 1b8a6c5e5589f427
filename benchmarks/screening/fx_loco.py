import numpy as np, warnings, sys
sys.path.insert(0, __import__('os').path.join(__import__('os').path.dirname(__file__), '..', '..', 'src')); sys.path.insert(0, __import__('os').path.dirname(__file__))
from sklearn.linear_model import LogisticRegression
warnings.filterwarnings('ignore')
W=np.load('/tmp/exp/whisper.npz'); F=np.load('/tmp/exp/fx.npz')['X']; E=np.load('/tmp/exp/egemaps.npz')['X']
from functionals import FUNCTIONAL_NAMES as N
corp=W['corpus']; spk=W['speaker']; emo=W['emotion']
LAB=['neutral','calm','happy','sad','angry','fearful','disgust','surprised']
y=np.array([LAB.index(e) for e in emo])
fam=np.array([n.split('_')[0].rstrip('0123456789') for n in N])
def uar(yt,yp): return np.mean([np.mean(yp[yt==l]==l) for l in np.unique(yt)])
def w_corpus(c,yy):
    keys=list(zip(c,yy)); from collections import Counter; n=Counter(keys); w=np.array([1/n[k] for k in keys]); return w*len(w)/w.sum()
def loco(X,C=0.1,adapt=False):
    r={}
    for tc in ['emodb','ravdess','savee']:
        tr=corp!=tc; te=~tr
        mu,sd=X[tr].mean(0),X[tr].std(0)+1e-6
        mt,st=(X[te].mean(0),X[te].std(0)+1e-6) if adapt else (mu,sd)
        clf=LogisticRegression(C=C,max_iter=3000,class_weight='balanced').fit((X[tr]-mu)/sd,y[tr],sample_weight=w_corpus(corp[tr],y[tr]))
        r[tc]=uar(y[te],clf.predict((X[te]-mt)/st))
    return r
def show(name,X,**kw):
    r=loco(X,**kw); print(f'{name:28s}', ' '.join(f'{k} {v:.3f}' for k,v in r.items()), f'mean {np.mean(list(r.values())):.3f}', flush=True)
show('all fx', F)
for f in ['mel','mfcc','energy','f','centroid']:
    pass
show('mel only', F[:, fam=='mel'])
show('no mel', F[:, fam!='mel'])
show('no mfcc', F[:, fam!='mfcc'])
show('prosody+quality', F[:, np.isin(fam,['energy','f','centroid','flatness','alpha','hammarberg'])])
show('all fx C=0.01', F, C=0.01)
show('all fx C=1', F, C=1.0)
show('egemaps', E)
show('all fx adapt', F, adapt=True)
show('egemaps adapt', E, adapt=True)
show('whisper', W['X'])
