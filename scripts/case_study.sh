#!/usr/bin/env bash
# The case study of docs/case-study.md: a folder of repositories, each a team, with no roster.
#
#   scripts/case_study.sh OUT_DIR REPO...
#
# Runs ingest (release tags as deployments) -> status -> panel -> metrics -> drivers -> impact ->
# report into OUT_DIR and records each step's wall-clock time in OUT_DIR/timings.tsv. The tool's
# rollout dates (OUT_DIR/rollout.csv) are each repository's first commit with a
# "Co-authored-by: Claude" trailer, for repositories with at least MIN_TRAILERS (default 3) such
# commits. Environment: CTSSW (the ctssw command, default `ctssw`), PYTHON (for repository ids,
# default `python3`), REPO_ID_FROM (default auto), K (privacy floor, default 5).
set -euo pipefail
[ $# -ge 2 ] || { echo "usage: $0 OUT_DIR REPO..." >&2; exit 2; }
out=$1; shift
mkdir -p "$out"
db="$out/ctssw.duckdb"
ctssw=${CTSSW:-ctssw}
python=${PYTHON:-python3}
from=${REPO_ID_FROM:-auto}
k=${K:-5}
min=${MIN_TRAILERS:-3}
printf 'step\tseconds\n' > "$out/timings.tsv"

step() {  # step NAME OUTPUT_FILE COMMAND...
  local name=$1 file=$2; shift 2
  local t0 t1
  t0=$(date +%s.%N)
  "$@" > "$file" 2>&1 || echo "exit $?" >> "$file"
  t1=$(date +%s.%N)
  awk -v n="$name" -v a="$t0" -v b="$t1" 'BEGIN { printf "%s\t%.1f\n", n, b - a }' >> "$out/timings.tsv"
}

# repository ids as ctssw gives them, one per line, in the order given
mapfile -t ids < <("$python" -c 'import sys; from pathlib import Path; from ctssw.sources.git import repo_ids
print("\n".join(repo_ids([Path(p) for p in sys.argv[2:]], sys.argv[1])))' "$from" "$@")
echo "team,date" > "$out/rollout.csv"
i=0
for r in "$@"; do
  n=$(git -C "$r" log --format=%B | grep -ci '^co-authored-by: claude' || true)
  if [ "$n" -ge "$min" ]; then
    d=$(git -C "$r" log --reverse --format=%as -i --grep='^co-authored-by: claude' | sed -n 1p)
    echo "${ids[$i]},$d" >> "$out/rollout.csv"
  fi
  i=$((i + 1))
done

step ingest "$out/ingest.txt" "$ctssw" ingest git "$@" --deployments tags --repo-id-from "$from" --db "$db"
step status "$out/status.json" "$ctssw" status --db "$db" --json
step panel "$out/panel.txt" "$ctssw" panel --db "$db" --out "$out/panel.parquet"
step metrics "$out/metrics.json" "$ctssw" metrics --db "$db" --json --k "$k"
step drivers "$out/drivers.json" "$ctssw" drivers --db "$db" --json --k "$k"
step impact "$out/impact.json" "$ctssw" impact --db "$db" --tool claude --method all --rollout "$out/rollout.csv" --json
step report "$out/report.txt" "$ctssw" report --db "$db" --tool claude --rollout "$out/rollout.csv" --k "$k" --out "$out/report.html"
cat "$out/timings.tsv"
