import numpy as np, sys
sys.path.insert(0, __import__('os').path.dirname(__file__))
from loco import *
for ls in [(0,1,2,3,4),(1,2,3),(4,),(1,2,3,4)]:
    X=np.hstack([W['X'][:,i*768:(i+1)*768] for i in ls]); res=[]
    for tc in ['ravdess','emodb','savee']:
        tr=corp!=tc; te=corp==tc; mu,sd=X[tr].mean(0),X[tr].std(0)+1e-6
        clf=LogisticRegression(C=0.1,max_iter=3000,class_weight='balanced').fit((X[tr]-mu)/sd,y[tr])
        res.append(uar(y[te],clf.predict((X[te]-mu)/sd),np.unique(y[te])))
    print('layers',ls,'LOCO',round(np.mean(res),3),[round(r,3) for r in res],flush=True)
