#!/usr/bin/env bash
# The two set-up commands of the README's quick start.
#   ./run.sh main   build .venv, fetch the datasets, run the project workflow (`spacy project run all`)
#                   and publish its tables in the README and docs/results.md
#   ./run.sh test   build .venv, run the test suite
#   ./run.sh lint   build .venv, check the code with ruff (lint, then format)
# HAMR_DATASETS: a local folder with the six dataset folders (default ../shared/datasets);
# when it does not exist the project downloads its assets instead.
set -euo pipefail
cd "$(dirname "$0")"
VENV="${HAMR_VENV:-.venv}"
PYTHON="${PYTHON:-python3}"
DATASETS="${HAMR_DATASETS:-$(cd .. && pwd)/shared/datasets}"

setup() {
  [ -x "$VENV/bin/python" ] || "$PYTHON" -m venv "$VENV"
  # torch first, pinned to exactly 2.13.0: the wheel cache pip is pointed at (find-links) holds
  # the CPU build of this version, and any other spec lets pip pull a multi-GB CUDA build from PyPI.
  "$VENV/bin/pip" install --quiet --disable-pip-version-check torch==2.13.0
  "$VENV/bin/pip" install --quiet --disable-pip-version-check -e ".[transformers,test,project]"
}

main() {
  setup
  cd project
  if [ -d "$DATASETS" ]; then
    "../$VENV/bin/python" -m spacy project run copy-assets . --vars.local_datasets "$DATASETS"
  else
    "../$VENV/bin/python" -m spacy project assets .
  fi
  # The report's tables go into the README and docs/results.md: what they show is what this run measured.
  PATH="$(cd "../$VENV/bin" && pwd):$PATH" python -m spacy project run all .
  PATH="$(cd "../$VENV/bin" && pwd):$PATH" python -m spacy project run publish .
}

run_tests() {
  setup
  HAMR_DATASETS="$DATASETS" "$VENV/bin/python" -m pytest tests -p no:cacheprovider "$@"
}

lint() {
  setup
  "$VENV/bin/ruff" check .
  "$VENV/bin/ruff" format --check .
}

case "${1:-}" in
  main) main ;;
  test) shift; run_tests "$@" ;;
  lint) lint ;;
  *) echo "usage: $0 main | test [pytest args] | lint" >&2; exit 2 ;;
esac
