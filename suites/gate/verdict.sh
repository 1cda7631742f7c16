#!/bin/sh
# verdict.sh JUNIT RC FILTER — make ci-gate's last step: counts the specs
# that ran (It nodes neither skipped nor pending) in the JUnit report and
# exits non-zero when none did, else with Ginkgo's exit code RC. A gate that
# checked nothing (a label filter matching no spec, every spec skipped)
# does not pass.
junit=$1 rc=$2 filter=$3
ran=$(grep -E '<testcase name="\[It\]' "$junit" 2>/dev/null | grep -Evc 'status="(skipped|pending)"')
ran=${ran:-0}
echo
echo "JUnit report: $junit ($ran specs ran)"
echo "Per-run HTML reports and run dirs: the tables above, also in $(dirname "$junit")/summary-*.md"
if [ -f "$(dirname "$junit")/index.html" ]; then echo "Index of runs: $(dirname "$junit")/index.html"; fi
if [ "$ran" -eq 0 ]; then
	echo "ci-gate: FAILED: no spec ran (label filter '$filter')"
	exit 1
fi
if [ "$rc" -ne 0 ]; then
	echo "ci-gate: FAILED (anomalies, unknown verdicts or errors above)"
	exit "$rc"
fi
echo "ci-gate: passed"
