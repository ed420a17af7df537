#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-or-later
#
# Runs every libFuzzer target of a -Dfuzzing=true build for a bounded time each, starting from
# the seed corpus in tests/fuzz/corpus/<name>/ (copied, so the tree is not modified). A crash
# fails the run and leaves the reproducer in the build directory.
#
#   scripts/run-fuzzers.sh BUILD_DIR SECONDS_PER_TARGET
set -euo pipefail
build=${1:?build directory}
seconds=${2:-60}
src=$(cd "$(dirname "$0")/.." && pwd)
shopt -s nullglob
targets=("$build"/tests/fuzz/fuzz-*)
if [[ ${#targets[@]} -eq 0 ]]; then
  echo "run-fuzzers: no fuzz targets in $build/tests/fuzz" >&2
  exit 1
fi
failed=0
for exe in "${targets[@]}"; do
  [[ -x $exe && -f $exe ]] || continue
  name=${exe##*/fuzz-}
  work="$build/fuzz-work/$name"
  mkdir -p "$work/corpus" "$work/artifacts"
  if [[ -d "$src/tests/fuzz/corpus/$name" ]]; then
    cp -rn "$src/tests/fuzz/corpus/$name/." "$work/corpus/" 2>/dev/null || true
  fi
  echo "== fuzzing $name for ${seconds}s"
  if ! "$exe" -max_total_time="$seconds" -timeout=10 -rss_limit_mb=2048 -print_final_stats=1 \
      -artifact_prefix="$work/artifacts/" "$work/corpus" >"$work/log" 2>&1; then
    echo "run-fuzzers: $name FAILED; last lines of $work/log:" >&2
    tail -n 40 "$work/log" >&2
    failed=1
  else
    grep -E '^stat::number_of_executed_units|^stat::peak_rss_mb' "$work/log" | tr '\n' ' '
    echo
  fi
done
exit $failed
