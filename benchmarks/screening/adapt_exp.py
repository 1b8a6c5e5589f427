import numpy as np, sys
sys.path.insert(0, __import__('os').path.dirname(__file__))
from loco import *
Xall=np.hstack([W['X'][:,i*768:(i+1)*768] for i in (1,2,3)])
for lam_mode in ['full','0.5','n/(n+200)']:
    res=[]; ang=[]
    for tc in ['ravdess','emodb','savee']:
        trm=corp!=tc; te=corp==tc; X=Xall[trm]; mu,sd=X.mean(0),X.std(0)+1e-6
        clf=LogisticRegression(C=0.1,max_iter=3000,class_weight='balanced').fit((X-mu)/sd,y[trm])
        def adapted(Xt):
            n=len(Xt); lam={'full':1.0,'0.5':0.5}.get(lam_mode, n/(n+200))
            m2=lam*Xt.mean(0)+(1-lam)*mu; s2=np.sqrt(lam*Xt.var(0)+(1-lam)*sd**2)
            return (Xt-m2)/s2
        res.append(uar(y[te],clf.predict(adapted(Xall[te])),np.unique(y[te])))
        a=te&(y==4); ang.append(np.mean(clf.predict(adapted(Xall[a]))==4)); 
        base=np.mean(clf.predict((Xall[a]-mu)/sd)==4)
        print(lam_mode, tc, 'angry-only folder: recall', round(ang[-1],3), 'unadapted', round(base,3))
    print(lam_mode,'LOCO',round(np.mean(res),3),[round(r,3) for r in res])
