import numpy as np, sys, warnings
from sklearn.linear_model import LogisticRegression
warnings.filterwarnings('ignore')
W=np.load('/tmp/exp/whisper.npz'); E=np.load('/tmp/exp/egemaps.npz')
assert (W['path']==E['path']).all()
corp=W['corpus']; spk=W['speaker']; emo=W['emotion']
LAB=['neutral','calm','happy','sad','angry','fearful','disgust','surprised']
y=np.array([LAB.index(e) for e in emo])
def feats(kind):
    if kind=='W': return W['X']
    if kind=='E': return E['X']
    if kind=='WE': return np.hstack([W['X'],E['X']])
    if kind.startswith('L'):  # whisper single layer set
        ls=[int(c) for c in kind[1:]]; return np.hstack([W['X'][:,i*768:(i+1)*768] for i in ls])
def znorm(X, groups, stats=None):
    Z=np.empty_like(X, dtype=np.float64); st={}
    for g in np.unique(groups):
        m=groups==g; mu,sd=X[m].mean(0),X[m].std(0)+1e-6; st[g]=(mu,sd); Z[m]=(X[m]-mu)/sd
    return Z, st
def uar(yt, yp, labels):
    return np.mean([np.mean(yp[yt==l]==l) for l in labels])
def run(kind, C=0.1, norm='corpus', test_norm='own', drop_calm=False):
    X=feats(kind); res={}
    for tc in ['ravdess','emodb','savee']:
        tr=corp!=tc; te=corp==tc
        if drop_calm: tr&=(y!=1)
        Ztr,st=znorm(X[tr], corp[tr]) if norm=='corpus' else znorm(X[tr], np.zeros(tr.sum()))
        if test_norm=='own': Zte,_=znorm(X[te], corp[te])
        else:  # average of training-corpus stats
            mu=np.mean([v[0] for v in st.values()],0); sd=np.mean([v[1] for v in st.values()],0); Zte=(X[te]-mu)/sd
        clf=LogisticRegression(C=C, max_iter=2000, class_weight='balanced').fit(Ztr, y[tr])
        p=clf.predict(Zte); present=np.unique(y[te]); res[tc]=uar(y[te], p, present)
    return res
if __name__=='__main__':
    for args in [dict(kind='E'),dict(kind='W'),dict(kind='WE'),dict(kind='W',test_norm='train'),dict(kind='WE',test_norm='train'),dict(kind='W',drop_calm=True),dict(kind='L4'),dict(kind='L23'),dict(kind='L234'),dict(kind='W',C=0.01),dict(kind='W',C=1.0)]:
        r=run(**args); print(args, {k:round(v,3) for k,v in r.items()}, 'mean', round(np.mean(list(r.values())),3), flush=True)
