#!/bin/sh
# bench/profile.sh — where the hot path of B (CertMap) spends its time
# compared with A (SSLUserName), in instructions per request.
#
# Runs the bench configuration (bench/run-bench.sh, BENCH_PREPARE_ONLY) in
# one single-process httpd (-X) under valgrind --tool=callgrind with
# instrumentation off during start-up, warms both locations up (the first
# request to B runs PAM and fills the logon cache), then for A and for B
# separately: switches collection on, sends N keep-alive requests
# (ab -k -c 1) and dumps.  Prints instructions per request for the whole
# process, for each hook, and for mod_certmap's own functions (inclusive),
# per request.  Optionally (PROFILE_NC=1) the same with a new TLS
# connection per request.
#
#   sh bench/profile.sh            N=PROFILE_REQUESTS (default 2000)
#   PROFILE_REPORT_ONLY=1 PROFILE_NC=1 sh bench/profile.sh   report again
#   PROFILE_B=/b/ sh bench/profile.sh   B without PAM (default /p/: PAM on)
#   PROFILE_CONF=bench/out/conf/dir.conf PROFILE_B=/d/ sh bench/profile.sh
#       the directory section's warm location (its slapd must be running:
#       the URL in dir.conf)
#
# Needs valgrind (apt-get install valgrind).  Loopback only; httpd is
# stopped on every path.
set -eu

HERE=$(cd "$(dirname "$0")" && pwd)
TOP=$(cd "$HERE/.." && pwd)
OUT=$HERE/out
N=${PROFILE_REQUESTS:-2000}
NC=${PROFILE_NC:-}
APACHE=${APACHE:-/usr/sbin/apache2}
PAM_WRAPPER_LIB=${PAM_WRAPPER_LIB:-/usr/lib/x86_64-linux-gnu/libpam_wrapper.so}

command -v valgrind >/dev/null 2>&1 || { echo "profile: valgrind missing" >&2; exit 1; }
PROF=$OUT/profile
MODES=ka
[ -n "$NC" ] && MODES="ka nc"
if [ -z "${PROFILE_REPORT_ONLY:-}" ]; then
BENCH_PREPARE_ONLY=1 sh "$HERE/run-bench.sh" >/dev/null
CONF=${PROFILE_CONF:-$OUT/conf/hot.conf}
PORT=$(sed -n 's/^Listen 127.0.0.1:\([0-9]*\)$/\1/p' "$CONF" | head -n 1)
RUN=$OUT/run
rm -rf "$PROF"
mkdir -p "$PROF"
RUNAS=""
if [ "$(id -u)" -eq 0 ]; then
    RUNAS="setpriv --reuid=nobody --regid=nogroup --init-groups"
    chown nobody:nogroup "$PROF" "$RUN"
fi

VPID=""
cleanup() {
    if [ -n "$VPID" ] && kill -0 "$VPID" 2>/dev/null; then
        kill -TERM "$VPID" 2>/dev/null || true
        i=0
        while kill -0 "$VPID" 2>/dev/null && [ $i -lt 100 ]; do sleep 0.2; i=$((i + 1)); done
        kill -KILL "$VPID" 2>/dev/null || true
    fi
}
trap cleanup EXIT
trap 'cleanup; exit 130' INT TERM HUP

# vgdb (callgrind_control) cannot be relied upon here, so the phases are
# cut by dumps: --dump-before=ap_send_error_response fires on a request
# for a missing file, which neither A nor B ever serves.  Only request
# processing is collected (--toggle-collect=ap_process_async_request);
# the TLS handshake is the same code for A and B (one virtual host).
echo "== starting httpd -X under callgrind (start-up is slow under valgrind)"
env LD_PRELOAD="$PAM_WRAPPER_LIB" PAM_WRAPPER=1 PAM_WRAPPER_SERVICE_DIR="$OUT/pam" \
    $RUNAS valgrind --tool=callgrind --vgdb=no --collect-atstart=no \
    --toggle-collect=ap_process_async_request \
    --dump-before=ap_send_error_response \
    --callgrind-out-file="$PROF/callgrind.out" \
    "$APACHE" -X -f "$CONF" > "$PROF/valgrind.log" 2>&1 &
VPID=$!
t0=$(date +%s)
i=0
until ss -Hltn 2>/dev/null | grep -q "127.0.0.1:$PORT "; do
    i=$((i + 1))
    if [ $i -gt 3000 ] || ! kill -0 "$VPID" 2>/dev/null; then
        tail -20 "$PROF/valgrind.log" >&2
        echo "profile: httpd did not come up" >&2
        exit 1
    fi
    sleep 0.2
done
echo "   up after $(( $(date +%s) - t0 )) s"
PEM=$OUT/alice-client.pem
URL_A=https://127.0.0.1:$PORT/a/index.html
# B here is by default the bench's P (PROFILE_B=/p/): CertMap with PAM on
# through the logon cache; PROFILE_B=/b/ profiles CertMap with PAM off
URL_B=https://127.0.0.1:$PORT${PROFILE_B:-/p/}index.html
URL_CUT=https://127.0.0.1:$PORT/a/no-such-file

drive() {  # MODE URL COUNT
    k=""
    [ "$1" = ka ] && k="-k"
    timeout 900 ab -q $k -c 1 -n "$3" -E "$PEM" "$2" > "$PROF/ab.out" 2>&1
    grep -q "^Complete requests: *$3\$" "$PROF/ab.out" \
        && ! grep -q "^Non-2xx" "$PROF/ab.out" \
        || { cat "$PROF/ab.out" >&2; echo "profile: ab failed" >&2; exit 1; }
}
ndumps=0
cut_phase() {  # NAME N: ends the phase; its dump becomes NAME.callgrind
    curl -s -o /dev/null --max-time 60 --cacert "$OUT/pki/root.crt" \
        --cert "$PEM" "$URL_CUT" || true
    ndumps=$((ndumps + 1))
    i=0
    while [ ! -f "$PROF/callgrind.out.$ndumps" ] && [ $i -lt 300 ]; do
        sleep 0.2; i=$((i + 1))
    done
    sleep 1
    mv "$PROF/callgrind.out.$ndumps" "$PROF/$1.callgrind"
    echo "$2" > "$PROF/$1.n"
}

echo "== warm-up (PAM logon, cache fill)"
drive ka "$URL_B" 20
drive ka "$URL_A" 20
cut_phase warmup 40

for mode in $MODES; do
    n=$N
    [ "$mode" = nc ] && n=$((N / 10))
    for cfg in A B; do
        if [ $cfg = A ]; then url=$URL_A; else url=$URL_B; fi
        echo "== $mode $cfg: $n requests"
        drive "$mode" "$url" "$n"
        cut_phase "$mode-$cfg" "$n"
    done
done
cleanup
VPID=""
fi  # PROFILE_REPORT_ONLY

# ---- report ----------------------------------------------------------------
per_req() {  # FILE N : "function inclusive-Ir-per-request" for every function
    callgrind_annotate --inclusive=yes --threshold=100 "$1" 2>/dev/null \
        | awk -v n="$2" '/^ *[0-9,]+ .*:/ {
              ir = $1; gsub(",", "", ir)
              fn = $0; sub(/^ *[0-9,]+ +(\([^)]*\) +)?/, "", fn)
              sub(/ \[[^]]*\]$/, "", fn)
              printf "%.0f\t%s\n", ir / n, fn }'
}
for mode in $MODES; do
    label="keep-alive"
    [ "$mode" = nc ] && label="new TLS connection per request"
    na=$(cat "$PROF/$mode-A.n"); nb=$(cat "$PROF/$mode-B.n")
    per_req "$PROF/$mode-A.callgrind" "$na" > "$PROF/$mode-A.txt"
    per_req "$PROF/$mode-B.callgrind" "$nb" > "$PROF/$mode-B.txt"
    ta=$(callgrind_annotate "$PROF/$mode-A.callgrind" 2>/dev/null | awk '/PROGRAM TOTALS/ { gsub(",", "", $1); print $1 }')
    tb=$(callgrind_annotate "$PROF/$mode-B.callgrind" 2>/dev/null | awk '/PROGRAM TOTALS/ { gsub(",", "", $1); print $1 }')
    echo ""
    echo "== $label, instructions per request (callgrind, httpd -X, ab -c 1)"
    awk -v a="$ta" -v b="$tb" -v na="$na" -v nb="$nb" 'BEGIN {
        printf "   whole process: A %.0f  B %.0f  B-A %+.0f  (B/A %.3f)\n", a / na, b / nb, b / nb - a / na, (b / nb) / (a / na) }'
    echo "   hooks and functions, inclusive Ir per request (A | B | B-A):"
    for fn in ap_process_request_internal ap_run_access_checker ap_run_access_checker_ex \
              ap_run_check_user_id ap_location_walk ap_merge_per_dir_configs \
              ssl_hook_Access ssl_hook_UserCheck ssl_var_lookup \
              certmap_merge_dir_conf certmap_merge_tables certmap_check_access \
              certmap_check_user certmap_request_cert certmap_conn_cert certmap_cert_parse \
              certmap_check_verified ap_ssl_var_lookup certmap_map_and_logon certmap_match \
              match_one_to_one search_table gather_candidates first_failed_rule \
              certmap_logon certmap_cache_lookup make_key prepare cache_lock \
              apr_global_mutex_lock certmap_finish certmap_log certmap_cert_describe \
              apr_psprintf ap_log_rerror_ certmap_pam_logon; do
        va=$(awk -F'\t' -v f="$fn" '$2 ~ ("(^|:)" f "(\\.[a-z0-9.]+)?$") { if ($1 > s) s = $1 } END { print s + 0 }' "$PROF/$mode-A.txt")
        vb=$(awk -F'\t' -v f="$fn" '$2 ~ ("(^|:)" f "(\\.[a-z0-9.]+)?$") { if ($1 > s) s = $1 } END { print s + 0 }' "$PROF/$mode-B.txt")
        [ "$va" = 0 ] && [ "$vb" = 0 ] && continue
        printf '   %-32s %10s %10s %+10d\n' "$fn" "$va" "$vb" "$((vb - va))"
    done
    echo "   top inclusive in mod_certmap (B):"
    grep -E 'certmap_|first_failed|search_table|rule_matches|pattern_matches|gather_candidates|match_one_to_one|make_key|digest_field|parse_name|fold_pass|name_rfc2253' \
        "$PROF/$mode-B.txt" | grep -v '=>' \
        | awk -F'\t' '{ f = $2; sub(/^.*\//, "", f); if (!(f in v) || $1 > v[f]) v[f] = $1 }
                       END { for (f in v) printf "%d\t%s\n", v[f], f }' \
        | sort -rn | head -20 | awk -F'\t' '{ printf "   %10d  %s\n", $1, $2 }'
done
echo ""
echo "raw profiles: $PROF/*.callgrind (callgrind_annotate --inclusive=yes FILE)"
