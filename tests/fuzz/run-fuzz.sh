#!/bin/sh
# run-fuzz.sh TARGET... — runs each libFuzzer binary (build/fuzz/NAME) for
# FUZZ_SECONDS from a fixed FUZZ_SEED, on a fresh corpus built under
# build/fuzz/corpus/NAME from the test PKI (scripts/make-pki.sh) and the
# hand-written seeds in tests/fuzz/seeds/ (NAME without fuzz_).  libFuzzer's
# own output goes to build/fuzz/NAME.log; this prints one line per
# target, PASS or FAIL with its executions, and exits non-zero when any
# target crashed or found a disagreement (the input is then kept in
# build/fuzz/artifacts/).  `make fuzz` calls it.
set -eu

SECONDS_EACH=${FUZZ_SECONDS:-60}
SEED=${FUZZ_SEED:-1}
MAX_LEN=${FUZZ_MAX_LEN:-4096}
TOP=$(cd "$(dirname "$0")/../.." && pwd)
OUT=$TOP/build/fuzz
PKI=$OUT/pki
ARTIFACTS=$OUT/artifacts

case $SECONDS_EACH in
    ''|*[!0-9]*) echo "run-fuzz: FUZZ_SECONDS must be a number" >&2; exit 2 ;;
esac
case $SEED in
    ''|*[!0-9]*) echo "run-fuzz: FUZZ_SEED must be a number" >&2; exit 2 ;;
esac

# Crash stacks with function names and lines: Debian's llvm-14 installs
# the symbolizer under a versioned name only.
if [ -z "${ASAN_SYMBOLIZER_PATH:-}" ] \
   && ! command -v llvm-symbolizer >/dev/null; then
    for s in /usr/bin/llvm-symbolizer-*; do
        [ -x "$s" ] && export ASAN_SYMBOLIZER_PATH="$s"
    done
fi

mkdir -p "$OUT" "$ARTIFACTS"
sh "$TOP/scripts/make-pki.sh" "$PKI" >"$OUT/make-pki.log" 2>&1 || {
    echo "run-fuzz: scripts/make-pki.sh failed, see $OUT/make-pki.log" >&2
    exit 1
}

# Every certificate of the PKI as DER, converted once.
DER=$OUT/der
rm -rf "$DER"
mkdir -p "$DER"
for crt in "$PKI"/*.crt; do
    openssl x509 -in "$crt" -outform DER \
        -out "$DER/$(basename "$crt" .crt).der"
done

# fuzz_engine reads a DER certificate, an IIS base64 blob, or the words
# of a CertMapRule separated by tabs.
corpus_engine() {
    for der in "$DER"/*.der; do
        cp "$der" "$1/"
        base64 -w 0 "$der" >"$1/$(basename "$der" .der).b64"
    done
}

# fuzz_rules reads a rule set and then, after a "der" line, a
# certificate: every certificate of the PKI under each rule-set header
# in tests/fuzz/seeds/rules/headers/.
corpus_rules() {
    for header in "$TOP"/tests/fuzz/seeds/rules/headers/*.hdr; do
        h=$(basename "$header" .hdr)
        for der in "$DER"/*.der; do
            { cat "$header"; printf 'der\n'; cat "$der"; } \
                >"$1/$(basename "$der" .der)-$h.bin"
        done
    done
}

# Executions: libFuzzer's "Done N runs", or its last "#N" status line
# when it stopped on a crash.
executions() {
    runs=$(sed -n 's/^Done \([0-9]*\) runs.*/\1/p' "$1" | tail -n 1)
    if [ -z "$runs" ]; then
        runs=$(sed -n 's/^#\([0-9]*\).*/\1/p' "$1" | tail -n 1)
    fi
    echo "${runs:-0}"
}

# The first line that says what went wrong.
reason() {
    grep -m 1 -E '^fuzz_[a-z]+: disagreement|^SUMMARY:|ERROR: libFuzzer' "$1" \
        || grep -m 1 'runtime error' "$1" || echo "see the log"
}

failed=0
for bin in "$@"; do
    name=$(basename "$bin")
    corpus=$OUT/corpus/$name
    log=$OUT/$name.log
    seeds=$TOP/tests/fuzz/seeds/${name#fuzz_}
    rm -rf "$corpus"
    mkdir -p "$corpus"
    "corpus_${name#fuzz_}" "$corpus"
    if [ -d "$seeds" ]; then
        find "$seeds" -type f -name '*.txt' -exec cp {} "$corpus/" \;
    fi
    before=$(ls "$corpus" | wc -l)
    dict=""
    if [ -f "$TOP/tests/fuzz/$name.dict" ]; then
        dict=-dict=$TOP/tests/fuzz/$name.dict
    fi
    rc=0
    "$bin" -seed="$SEED" -max_total_time="$SECONDS_EACH" -max_len="$MAX_LEN" \
        -timeout=10 -print_final_stats=0 ${dict:+"$dict"} \
        -artifact_prefix="$ARTIFACTS/$name-" "$corpus" >"$log" 2>&1 || rc=$?
    runs=$(executions "$log")
    after=$(ls "$corpus" | wc -l)
    if [ "$rc" -eq 0 ]; then
        echo "$name: PASS, $runs executions in ${SECONDS_EACH}s" \
             "(seed $SEED, corpus $before -> $after inputs)"
    else
        failed=1
        artifact=$(sed -n 's/.*Test unit written to \(.*\)$/\1/p' "$log" \
                   | tail -n 1)
        when="after $runs executions"
        [ "$runs" = 0 ] && when="on a seed input"
        echo "$name: FAIL $when (seed $SEED): $(reason "$log")"
        echo "$name:   input ${artifact:-not saved}; log $log"
        echo "$name:   replay: $bin ${artifact:-INPUT}"
    fi
done
exit "$failed"
