#!/bin/bash
# instructions per 2 KiB HIT: callgrind on the daemon, wrk -t1 -c4 -d10s
# usage: bench/hit-instructions.sh BINARY LABEL [--br]
# --br: compressible page, compress = true, wrk sends Accept-Encoding: gzip, deflate, br
set -e
BIN=$1; LABEL=$2; BR=${3:-}; D=$(mktemp -d /tmp/cg.XXXX)
COMPRESS=false; AE=()
if [[ $BR == --br ]]; then COMPRESS=true; AE=(-H "Accept-Encoding: gzip, deflate, br"); fi
python3 -c 'import sys; sys.stdout.write(("<p>hello world</p>" * 200)[:2048])' > $D/page.html
(cd $D && exec python3 -m http.server 18700 --bind 127.0.0.1 >/dev/null 2>&1) & UP=$!
cat > $D/p.toml <<T
[server]
listen = "127.0.0.1:18701"
admin_listen = "127.0.0.1:18702"
[upstream]
url = "http://127.0.0.1:18700"
[cache]
dir = "$D/cache"
compress = $COMPRESS
T
valgrind --tool=callgrind --callgrind-out-file=$D/cg.out $BIN --config $D/p.toml > $D/log 2>&1 & VG=$!
for i in $(seq 100); do curl -sf -o /dev/null http://127.0.0.1:18701/_preload/page.html && break; sleep 0.5; done
curl -s -D - -o /dev/null http://127.0.0.1:18701/_preload/page.html | grep -i x-preload-cache || true
sleep 1
callgrind_control -z $VG >/dev/null
wrk -t1 -c4 -d10s "${AE[@]}" http://127.0.0.1:18701/_preload/page.html > $D/wrk.out
callgrind_control -d $VG >/dev/null
sleep 1
REQ=$(grep -oE '^ +[0-9]+ requests' $D/wrk.out | grep -oE '[0-9]+')
IR=$(for f in $D/cg.out.*; do callgrind_annotate $f 2>/dev/null | grep -m1 "PROGRAM TOTALS" | grep -oE '^[0-9,]+' | tr -d ,; done | paste -sd+ | bc)
echo "$LABEL requests=$REQ Ir=$IR per_hit=$((IR / REQ))"
kill $VG $UP 2>/dev/null; wait 2>/dev/null; rm -rf $D
