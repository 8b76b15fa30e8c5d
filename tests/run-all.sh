#!/bin/sh
# run-all.sh — `make test`: every suite, in one run, with one closing line.
#
# Runs each stage even when an earlier one failed (so one run shows every
# failure), counts the tests each harness reports, and ends with
#   N passed, M failed
# exiting non-zero when any test or any stage failed.  The stages are make
# targets, so each can also be run alone: test-unit, test-pam-root,
# test-apache-pam-root (real pam_unix through Debian's apache2, root only),
# test-tools, test-httpd (event MPM), test-httpd-worker, test-httpd-prefork,
# test-deb (the Debian package; it installs it into the system only with
# CERTMAP_TEST_SYSTEM=1, which CI sets).
set -u

MAKE=${MAKE:-make}
LOG_DIR=build/test-logs
mkdir -p "$LOG_DIR"

passed=0
failed=0
broken=""

# As root the httpd stages create the system user certmap-test
# (tests/run-httpd-tests.sh); a run that created it removes it at the end.
TEST_USER=certmap-test
had_test_user=0
id "$TEST_USER" >/dev/null 2>&1 && had_test_user=1

# cmocka: "[  PASSED  ] N test(s)." and "[  FAILED  ] N test(s)".
count_cmocka() {
    p=$(sed -n 's/^\[  PASSED  \] \([0-9]*\) test.*/\1/p' "$1" | awk '{s+=$1} END {print s+0}')
    f=$(sed -n 's/^\[  FAILED  \] \([0-9]*\) test.*/\1/p' "$1" | awk '{s+=$1} END {print s+0}')
}

# Test::Harness: "Files=8, Tests=742, ..." and "Failed X/Y subtests".  A
# test file that skips itself (say, "cannot find module 'ssl'") tested
# nothing: here that is a failure, not a pass.
count_harness() {
    total=$(sed -n 's/^Files=[0-9]*, Tests=\([0-9]*\),.*/\1/p' "$1" | tail -n 1)
    f=$(sed -n 's/.*Failed \([0-9]*\)\/[0-9]* subtests.*/\1/p' "$1" | awk '{s+=$1} END {print s+0}')
    p=$(( ${total:-0} - f ))
    skipped=$(grep -c '\.\. skipped:' "$1")
    if [ "$skipped" -gt 0 ] || [ "${total:-0}" -eq 0 ]; then
        echo "make test: $skipped test file(s) skipped themselves, ${total:-0} tests ran"
        f=$((f + skipped))
        [ "${total:-0}" -eq 0 ] && f=$((f + 1))
    fi
}

# The tools suite prints the plain "N passed, M failed" itself.
count_plain() {
    line=$(grep -E '^[0-9]+ passed, [0-9]+ failed' "$1" | tail -n 1)
    p=$(echo "$line" | sed -n 's/^\([0-9]*\) passed.*/\1/p')
    f=$(echo "$line" | sed -n 's/.* \([0-9]*\) failed.*/\1/p')
    p=${p:-0}; f=${f:-0}
}

# stage TARGET COUNTER: runs `make TARGET`, shows its output, adds its
# counts; a stage that fails without a failed test still fails the run.
stage() {
    target=$1 counter=$2
    log="$LOG_DIR/$target.log"
    echo "==== make $target"
    $MAKE --no-print-directory "$target" >"$log" 2>&1
    rc=$?
    cat "$log"
    $counter "$log"
    passed=$((passed + p))
    failed=$((failed + f))
    if [ "$rc" -ne 0 ]; then
        broken="$broken $target"
        if [ "$f" -eq 0 ]; then
            failed=$((failed + 1))      # the stage itself broke
        fi
    fi
}

# pam_wrapper keeps its configuration in /tmp/pam.X (one of 62 names) and
# removes it when its process ends cleanly; a process that is killed (an
# httpd child at shutdown, a killed run) leaves it behind, and once the
# names run out pam_wrapper cannot start.  Remove those whose process is
# gone (or, without a pid file, that are older than an hour): before the
# stages, and after them, so that a run leaves none of its own behind.
sweep_pam_dirs() {
    for d in /tmp/pam.?; do
        [ -d "$d" ] || continue
        if [ -f "$d/pid" ]; then
            pid=$(cat "$d/pid" 2>/dev/null || true)
            case $pid in ''|*[!0-9]*) continue ;; esac
            kill -0 "$pid" 2>/dev/null && continue
            [ -d "/proc/$pid" ] && continue
        elif [ -z "$(find "$d" -maxdepth 0 -mmin +60 2>/dev/null)" ]; then
            continue
        fi
        rm -rf "$d"
    done
}
sweep_pam_dirs

stage test-unit count_cmocka
stage test-pam-root count_cmocka
stage test-apache-pam-root count_plain
if $MAKE -n test-tools >/dev/null 2>&1; then
    stage test-tools count_plain
fi
stage test-httpd count_harness
stage test-httpd-worker count_harness
stage test-httpd-prefork count_harness
stage test-deb count_plain
sweep_pam_dirs

if id "$TEST_USER" >/dev/null 2>&1; then
    if [ "$had_test_user" -eq 1 ]; then
        echo "make test: the system user $TEST_USER was there before this run and stays (userdel -r $TEST_USER removes it)"
    elif pgrep -u "$TEST_USER" >/dev/null 2>&1; then
        echo "make test: created the system user $TEST_USER; it still runs processes, so it stays (userdel -r $TEST_USER removes it)"
    elif userdel -r "$TEST_USER" >/dev/null 2>&1 || ! id "$TEST_USER" >/dev/null 2>&1; then
        echo "make test: removed the system user $TEST_USER it created"
    else
        echo "make test: could not remove the system user $TEST_USER it created (userdel -r $TEST_USER)"
    fi
fi
if [ -n "$broken" ]; then
    echo "make test: failing stages:$broken (logs in $LOG_DIR)"
fi
echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ] && [ -z "$broken" ]
