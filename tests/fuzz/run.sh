#!/usr/bin/env bash
# Runs one libFuzzer target and prints its figures on one line.
#   run.sh BINARY SEEDS WORK ARTIFACTS LIMIT [LIBFUZZER OPTIONS...]
# SEEDS: the committed seed corpus (read only); WORK: where the fuzzer
# keeps what it grows (under build/); ARTIFACTS: where a finding goes;
# LIMIT: libFuzzer's stop condition, -max_total_time=S or -runs=N.
# Exits non-zero on any finding (crash, broken invariant, leak, timeout).
set -uo pipefail
bin=$1 seeds=$2 work=$3 artifacts=$4 limit=$5
shift 5
name=$(basename "$bin")
mkdir -p "$work" "$artifacts"
log="$artifacts/$name.log"
start=$(date +%s.%N)
"$bin" "$limit" "$@" -print_final_stats=1 -timeout=10 -rss_limit_mb=4096 \
    -artifact_prefix="$artifacts/" "$work" "$seeds" >"$log" 2>&1
rc=$?
end=$(date +%s.%N)
execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log")
rate=$(sed -n 's/^stat::average_exec_per_sec: *//p' "$log")
secs=$(awk -v a="$start" -v b="$end" 'BEGIN { printf "%.0f", b - a }')
if [ $rc -ne 0 ]; then
    echo "FAIL  $name: finding after ${execs:-?} executions (log: $log)"
    grep -m1 -A2 -E 'BROKEN INVARIANT|ERROR: (AddressSanitizer|libFuzzer|LeakSanitizer)|runtime error' "$log" | sed 's/^/      /'
    sed -n 's/.*Test unit written to /      reproducer: /p' "$log"
    exit 1
fi
printf '%-22s %12s execs %8s s %10s exec/s  findings: 0\n' "$name" "$execs" "$secs" "$rate"
