# How often the layers 1-3 whisper-lr recipe answers "calm" off RAVDESS (LOCO, cached features), and
# the UAR with calm read as neutral or left out of the answers. Needs /tmp/exp/whisper.npz (extract.py whisper).
import numpy as np, warnings
from sklearn.linear_model import LogisticRegression
warnings.filterwarnings('ignore')
W=np.load('/tmp/exp/whisper.npz'); X=W['X'][:, 768:4*768]  # layers 1-3
corp=W['corpus']; emo=W['emotion']
LAB=['neutral','calm','happy','sad','angry','fearful','disgust','surprised']
y=np.array([LAB.index(e) for e in emo])
from collections import Counter
def w_corpus(c,yy):
    keys=list(zip(c,yy)); n=Counter(keys); w=np.array([1/n[k] for k in keys]); return w*len(w)/w.sum()
def uar(yt,yp): return np.mean([np.mean(yp[yt==l]==l) for l in np.unique(yt)])
for tc in ['emodb','savee']:
    tr=corp!=tc; te=~tr
    mu,sd=X[tr].mean(0),X[tr].std(0)+1e-6
    clf=LogisticRegression(C=0.1,max_iter=3000,class_weight='balanced').fit((X[tr]-mu)/sd,y[tr],sample_weight=w_corpus(corp[tr],y[tr]))
    P=clf.predict_proba((X[te]-mu)/sd); p=clf.classes_[P.argmax(1)]
    P2=P.copy(); P2[:,list(clf.classes_).index(1)]=0; p2=clf.classes_[P2.argmax(1)]
    pm=np.where(p==1,0,p)
    print(tc, 'calm share %.3f'%np.mean(p==1), 'UAR %.3f'%uar(y[te],p), 'calm->neutral %.3f'%uar(y[te],pm), 'calm excluded %.3f'%uar(y[te],p2))
