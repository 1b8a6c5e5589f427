import numpy as np, sys
sys.path.insert(0, __import__('os').path.dirname(__file__))
from loco import *
L=lambda X: np.hstack([X[:,i*768:(i+1)*768] for i in (1,2,3)])
Xc=L(W['X']); T=L(np.load('/tmp/exp/tel0.npz')['X'])
def fit(trm, S):
    X=S[trm]; mu,sd=X.mean(0),X.std(0)+1e-6
    return LogisticRegression(C=0.1,max_iter=3000,class_weight='balanced').fit((X-mu)/sd,y[trm]),mu,sd
P=lambda m,X: m[0].predict_proba((X-m[1])/m[2])
lo=[]
for tc in ['ravdess','emodb','savee']:
    trm=corp!=tc; te=corp==tc; a=fit(trm,Xc); b=fit(trm,T)
    lo.append(uar(y[te],a[0].classes_[(P(a,Xc[te])+P(b,Xc[te])).argmax(1)],np.unique(y[te])))
sp=np.random.default_rng(0).permutation(np.unique(spk[corp=='ravdess'])); ic=[]
for f in range(5):
    te=(corp=='ravdess')&np.isin(spk,list(sp[f::5])); a=fit(~te,Xc); b=fit(~te,T)
    ic.append(uar(y[te],a[0].classes_[(P(a,Xc[te])+P(b,Xc[te])).argmax(1)],np.unique(y[te])))
print('clean+tel ensemble on clean: LOCO',round(np.mean(lo),3),[round(v,3) for v in lo],'RAVin',round(np.mean(ic),3))
