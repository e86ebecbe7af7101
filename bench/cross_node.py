#!/usr/bin/env python3
"""Cross-node freshness audit: two running nodes that share a database and Redis.

usage: bench/cross_node.py PORT_A PORT_B N

N times: sign the investor demo account in on node A, use the session on node B (B caches it), sign it
out on A, and at once ask B again: counts how often B still accepts it. Then 4*N times: like or unlike
the top trending pitch on A and at once read the trending list on B: counts how often B still shows the
old like count, and reports the like/unlike latency on A. Standard library only; sequential requests on
one keep-alive connection per node, to 127.0.0.1.
"""
import http.client, json, sys, time, statistics
A=("127.0.0.1",int(sys.argv[1])); B=("127.0.0.1",int(sys.argv[2])); N=int(sys.argv[3])
ca=http.client.HTTPConnection(*A); cb=http.client.HTTPConnection(*B)
def req(c,m,p,body=None,cookie=None):
    h={"Content-Type":"application/json"}
    if cookie: h["Cookie"]=cookie
    c.request(m,p,body=json.dumps(body) if body is not None else None,headers=h)
    r=c.getresponse(); d=r.read(); return r.status, r.getheader("set-cookie"), d
# sessions
stale=0
for i in range(N):
    s,sc,_=req(ca,"POST","/api/auth/investor/login",{"email":"sarah.investor@demo.com","password":"Demo123"})
    ck=sc.split(";")[0]
    s,_,_=req(cb,"GET","/api/auth/session",cookie=ck); assert s==200,s
    s,_,_=req(ca,"POST","/api/auth/sign-out",cookie=ck); assert s==200
    s,_,_=req(cb,"GET","/api/auth/session",cookie=ck)
    if s==200: stale+=1
print(f"sessions: signed out on A, accepted on B at once: {stale} of {N}")
# likes
s,sc,_=req(ca,"POST","/api/auth/investor/login",{"email":"sarah.investor@demo.com","password":"Demo123"}); ck=sc.split(";")[0]
path="/api/pitches/public/trending?limit=5"
s,_,d=req(cb,"GET",path); top=json.loads(d)["data"]["pitches"][0]["id"]
def likes_on_b():
    s,_,d=req(cb,"GET",path)
    for p in json.loads(d)["data"]["pitches"]:
        if p["id"]==top: return p["likeCount"]
    return None
stale=0; lat=[]
for i in range(N*4):
    before=likes_on_b()
    m="POST" if i%2==0 else "DELETE"
    t=time.perf_counter(); s,_,_=req(ca,m,f"/api/pitches/{top}/like",{} if m=="POST" else None,cookie=ck); lat.append((time.perf_counter()-t)*1000)
    assert s==200,(s,m)
    after=likes_on_b()
    if after==before: stale+=1
lat.sort()
print(f"likes: read on B at once unchanged: {stale} of {N*4}; like/unlike on A ms p50 {lat[len(lat)//2]:.2f} p90 {lat[int(len(lat)*.9)]:.2f} p99 {lat[int(len(lat)*.99)]:.2f}")
