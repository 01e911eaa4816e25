#!/usr/bin/env python3
"""Import circles and the longest import chain among the modules of src/.

    scripts/import_graph.py [SRC] [-v] [-p]

A module's edges are its `crate::` and `super::` paths outside comments
and `#[cfg(test)]` code (test files are skipped); a child's use of its
parent does not count. Prints the circles (strongly connected groups),
the layers of the condensed graph, with -v every module's edges and with
-p the longest chain. The figures of issue 16 (docs/architecture.md) come
from it.
"""
import os,re,sys,collections
args=[a for a in sys.argv[1:] if not a.startswith('-')]
root=args[0] if args else os.path.join(os.path.dirname(os.path.abspath(__file__)),'..','src')
mods={}
for d,_,fs in os.walk(root):
    for f in fs:
        if not f.endswith('.rs') or f.endswith('_tests.rs') or f in('tests.rs','proptests.rs'): continue
        p=os.path.join(d,f); rel=os.path.relpath(p,root)[:-3]
        if rel.endswith('/mod'): rel=rel[:-4]
        if rel in('lib','main'): continue
        mods[rel.replace('/','::')]=open(p).read()
names=set(mods)
def strip_tests(s):
    i=s.find('#[cfg(test)]')
    s= s if i<0 else s[:i]
    return '\n'.join(l for l in s.split('\n') if not l.strip().startswith('//'))
edges=collections.defaultdict(set)
for m,src in mods.items():
    src=strip_tests(src)
    parent=m.rsplit('::',1)[0] if '::' in m else ''
    refs=set()
    # expand use groups crudely
    for mm in re.finditer(r'crate::([a-z_]+(?:::[a-z_]+)*)(?:::\{([^;]*?)\})?',src,re.S):
        base=mm.group(1); grp=mm.group(2)
        cands=[base]
        if grp:
            for part in re.split(r'[,\s]+',grp):
                part=part.strip().split('::')[0]
                if part and part[0].islower(): cands.append(base+'::'+part)
        for c in cands:
            parts=c.split('::')
            for k in range(len(parts),0,-1):
                n='::'.join(parts[:k])
                if n in names: refs.add(n); break
    for mm in re.finditer(r'\bsuper::([a-z_]+)',src):
        n=(parent+'::' if parent else '')+mm.group(1)
        if n in names: refs.add(n)
        elif parent in names: refs.add(parent)
    for r in refs:
        if r!=m and not m.startswith(r+'::') : edges[m].add(r)
# SCC
idx={};low={};st=[];on=set();sccs=[];c=[0]
sys.setrecursionlimit(10000)
def sc(v):
    idx[v]=low[v]=c[0];c[0]+=1;st.append(v);on.add(v)
    for w in edges[v]:
        if w not in idx: sc(w);low[v]=min(low[v],low[w])
        elif w in on: low[v]=min(low[v],idx[w])
    if low[v]==idx[v]:
        comp=[]
        while True:
            w=st.pop();on.discard(w);comp.append(w)
            if w==v:break
        sccs.append(comp)
for v in sorted(names):
    if v not in idx: sc(v)
cyc=[s for s in sccs if len(s)>1]
print("circles:",len(cyc))
for s in cyc: print("  ",sorted(s))
# depth (longest path on condensation)
comp={v:i for i,s in enumerate(sccs) for v in s}
memo={}
def depth(i):
    if i in memo: return memo[i]
    memo[i]=0
    d=0
    for v in sccs[i]:
        for w in edges[v]:
            j=comp[w]
            if j!=i: d=max(d,1+depth(j))
    memo[i]=d;return d
print("layers:",max(depth(i) for i in range(len(sccs)))+1)
if '-v' in sys.argv:
    for m in sorted(names): print(m,'->',sorted(edges[m]))
if '-p' in sys.argv:
    best={}
    def lp(v,seen=()):
        if v in best: return best[v]
        r=[v]
        for w in edges[v]:
            if w in seen: continue
            c=[v]+lp(w,seen+(v,))
            if len(c)>len(r): r=c
        best[v]=r; return r
    print(max((lp(v) for v in names),key=len))
