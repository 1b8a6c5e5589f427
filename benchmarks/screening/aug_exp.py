import numpy as np, sys
sys.path.insert(0, __import__('os').path.dirname(__file__))
from loco import *
A1=np.load('/tmp/exp/aug1.npz')['X']; A2=np.load('/tmp/exp/aug2.npz')['X']; T=np.load('/tmp/exp/tel0.npz')['X']; Xc=W['X']
def fit(trm, sets, C=0.1):
    Xs=[S[trm] for S in sets]; X=np.vstack(Xs); Y=np.concatenate([y[trm]]*len(sets))
    mu,sd=Xc[trm].mean(0),Xc[trm].std(0)+1e-6
    clf=LogisticRegression(C=C,max_iter=3000,class_weight='balanced').fit((X-mu)/sd,Y); return clf,mu,sd
def ev(clf,mu,sd,Xte,yte,mode):
    if mode=='own': mu,sd=Xte.mean(0),Xte.std(0)+1e-6
    return uar(yte, clf.predict((Xte-mu)/sd), np.unique(yte))
configs={'clean':[Xc],'clean+aug':[Xc,A1,A2],'clean+aug+tel':[Xc,A1,A2,T]}
C=float(sys.argv[1]) if len(sys.argv)>1 else 0.1
for name,sets in configs.items():
    out={}
    for tc in ['ravdess','emodb','savee']:
        trm=corp!=tc; te=corp==tc; clf,mu,sd=fit(trm,sets,C)
        for mode in ['pooled','own']:
            out[(tc,mode)]=ev(clf,mu,sd,Xc[te],y[te],mode); out[(tc,mode,'tel')]=ev(clf,mu,sd,T[te],y[te],mode)
    sp=np.random.default_rng(0).permutation(np.unique(spk[corp=='ravdess'])); ic=[]; ict=[]
    for f in range(5):
        te=(corp=='ravdess')&np.isin(spk,list(sp[f::5])); clf,mu,sd=fit(~te,sets,C); ic.append(ev(clf,mu,sd,Xc[te],y[te],'pooled')); ict.append(ev(clf,mu,sd,T[te],y[te],'pooled'))
    for mode in ['pooled','own']:
        print(name, mode, 'LOCO clean', round(np.mean([out[(c,mode)] for c in ['ravdess','emodb','savee']]),3), [round(out[(c,mode)],3) for c in ['ravdess','emodb','savee']], 'LOCO tel', round(np.mean([out[(c,mode,'tel')] for c in ['ravdess','emodb','savee']]),3))
    print(name, 'RAV in clean', round(np.mean(ic),3), 'tel', round(np.mean(ict),3), flush=True)
