#!/usr/bin/env bash
# Mutation testing (mutmut) of the aggregation math, staleness functions, selection and
# availability code; configuration in pyproject.toml, [tool.mutmut]. See docs/testing.md.
#
#   pip install -e ".[dev,mutation]"
#   tools/mutation.sh              # all mutants (cached: a rerun redoes only what changed)
#   tools/mutation.sh --fresh      # forget earlier results first
#   JOBS=1 tools/mutation.sh       # parallel test processes (default 2)
#
# Writes mutants/survivors.txt: the diff of every mutant no test killed.
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-python}
if [[ "${1:-}" == "--fresh" ]]; then
    rm -rf mutants
    shift
fi
# one thread per test process: workers are forked, and forked OpenMP pools can hang
export OMP_NUM_THREADS=1 MKL_NUM_THREADS=1
"$PY" -m mutmut run --max-children "${JOBS:-2}" "$@"
"$PY" -m mutmut results | tee mutants/results.txt
: > mutants/survivors.txt
for name in $(awk -F: '/: survived/ {print $1}' mutants/results.txt); do
    "$PY" -m mutmut show "$name" >> mutants/survivors.txt
    echo >> mutants/survivors.txt
done
echo "survivors: $(grep -c ': survived' mutants/results.txt || true) (diffs in mutants/survivors.txt)"
