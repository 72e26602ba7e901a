"""Near-duplicate count of the real set (README, index section): for every build vector, how many others lie at
cosine >= 0.9999. Run: python near_duplicates.py VECS/vectors.f32 (as benches/real_set.sh made it; the 24k and
28k sets of the README were both counted with it)."""
import sys
import numpy as np
x=np.fromfile(sys.argv[1],dtype='<f4').reshape(-1,512)
n=len(x); cnt={0.999:0,0.9999:0}; many=0
for s in range(0,n,1000):
    sims=x[s:s+1000]@x.T
    for i in range(len(sims)): sims[i,s+i]=-1
    m=sims.max(1)
    for t in cnt: cnt[t]+=int((m>t).sum())
    many+=int(((sims>=0.9999).sum(1)>=10).sum())
print(n,'rows; nearest other cosine >0.999:',cnt[0.999],'>0.9999:',cnt[0.9999],'; rows with >=10 others at >=0.9999:',many)
