#!/usr/bin/env bash
# `spacy hamr compare` from a fresh install, timed: a new virtual environment with this checkout
# installed, cyclone_idai_2019 and mit_restaurant converted, then one command each: the project's CNN
# configs, the default arms, 3 seeds, the main job's budgets (8 and 5 epochs of plain training), one
# run at a time. WORKDIR/out/<dataset>/ gets the reports, WORKDIR/<dataset>.time the command's wall time.
#   taskset -c 0 benchmarks/compare_time.sh WORKDIR
set -euo pipefail
CHECKOUT="$(cd "$(dirname "$0")/.." && pwd)"
DATASETS="${HAMR_DATASETS:-$(cd "$CHECKOUT/.." && pwd)/shared/datasets}"
mkdir -p "$1" && cd "$1"
[ -x venv/bin/python ] || python3 -m venv venv
venv/bin/pip install -q --disable-pip-version-check torch==2.13.0
venv/bin/pip install -q --disable-pip-version-check "$CHECKOUT[project]"
venv/bin/python -m spacy hamr convert "$DATASETS" corpus --datasets cyclone_idai_2019,mit_restaurant
for run in "cyclone_idai_2019 textcat_cnn 8" "mit_restaurant ner_cnn 5"; do
  set -- $run
  /usr/bin/time -f "%e" -o "$1.time" venv/bin/python -m spacy hamr compare "$CHECKOUT/project/configs/$2.cfg" \
    "out/$1" --paths.train "corpus/$1/train.spacy" --paths.dev "corpus/$1/dev.spacy" \
    --test "corpus/$1/test.spacy" --epochs "$3" --seeds 3 --jobs 1 2>&1 | tee "$1.log"
done
