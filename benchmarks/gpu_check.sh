#!/usr/bin/env bash
# HAMR on a GPU server without network: the `gpu` tests, then HAMR's whole
# `spacy train` time against plain training, alternately, for the CNN textcat
# (cyclone_idai_2019), the CNN NER (mit_restaurant) and the transformer config
# (a random-weights BERT: every transformer code path, no model weights).
#
#   benchmarks/gpu_check.sh prepare       here, with network and ./run.sh's .venv: the packages
#                                         the server's image lacks, for its Python 3.12, installed
#                                         into one folder and packed as .gpu_check/carry/site.tar.xz,
#                                         with the corpora and the tiny transformer: everything
#                                         the server needs, in .gpu_check/carry (one transfer)
#   benchmarks/gpu_check.sh run           on the server (its python3, a venv with torch and cupy):
#                                         unpack, check the imports, preflight the GPU, the gpu
#                                         tests, then the timing; results in $OUT (else
#                                         .gpu_check/out), written after every step
#   benchmarks/gpu_check.sh dry-run DIR   on any CPU: the same, for the local Python, from wheels
#                                         of the local venv's packages, under a stand-in of the
#                                         server's image (a venv made from inside this one,
#                                         holding torch and numpy but no spaCy), on tiny
#                                         generated corpora; the GPU preflight skipped by
#                                         GPU_CHECK_SKIP_PREFLIGHT=1, which it sets
#
# GPU_CHECK_BUDGET_S (default 500): seconds from the start of `run` after which no timed pair
# starts and the running training is stopped; GPU_CHECK_TESTS_S (default 240) caps the gpu
# tests; GPU_CHECK_EPOCHS (default 1) and GPU_CHECK_REPEATS (default 2) size the timing, whose
# pairs go round the configs (one pair each first). GPU_CHECK_PYTHON (default python3) is the
# server's interpreter.
set -uo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
CHECK=$ROOT/.gpu_check
EPOCHS="${GPU_CHECK_EPOCHS:-1}"
REPEATS="${GPU_CHECK_REPEATS:-2}"
BUDGET="${GPU_CHECK_BUDGET_S:-500}"
TESTS_S="${GPU_CHECK_TESTS_S:-240}"
DATASETS="${HAMR_DATASETS:-$(cd .. && pwd)/shared/datasets}"
# The server's wheels: CPython 3.12 on x86-64 Linux.
SERVER_WHEELS=(--only-binary=:all: --python-version 3.12 --implementation cp
  --platform manylinux_2_28_x86_64 --platform manylinux_2_27_x86_64 --platform manylinux_2_24_x86_64
  --platform manylinux_2_17_x86_64 --platform manylinux2014_x86_64 --platform manylinux1_x86_64)
# What travels with the working tree in one call, at most 64 MiB together; kept under this:
CARRY_LIMIT=$((56 * 1024 * 1024))

die() { echo "gpu_check: $*" >&2; exit 1; }

# ---- the carried folder: built here by `prepare` (server) and `dry-run` (local Python) alike ----

build_site() {  # PYTHON WHEELS STAGE ARCHIVE XZ_PRESET|none [pip's target options]: one packed site folder
  local py=$1 wheels=$2 stage=$3 archive=$4 preset=$5; shift 5
  rm -rf "$stage" "$archive"
  # Installed here into a plain folder, which the server's own python3 runs with first on its
  # PYTHONPATH. That python3 is itself a venv: a venv made from it, even with
  # --system-site-packages, sees the base interpreter's packages, not the image's torch and numpy.
  # A venv with a .pth file pointing into the image's site-packages would see them, but would
  # still need the venv module, and pip resolving on the server against packages it must not
  # uninstall. The folder needs nothing there but python3's tarfile: the image's packages stay as
  # they are, the folder's shadow theirs (transformers 4.53 over 5.x) because PYTHONPATH comes
  # before site-packages, and `gpu_env.py check` verifies where each one is imported from.
  "$py" -m pip install --quiet --no-index --no-deps --no-compile --no-warn-script-location \
    --target "$stage" "$@" "$wheels"/*.whl || die "pip install --target $stage failed"
  rm -rf "$stage/bin"  # console scripts with this machine's shebang: the check runs `python -m`
  # Debug sections out of the compiled modules (spaCy's wheel: 35 MB, 7 MB without them). Files
  # with an RPATH (auditwheel's patched libraries) are left as they are.
  if command -v strip >/dev/null && command -v readelf >/dev/null; then
    find "$stage" -type f -name '*.so*' -print0 | while IFS= read -r -d '' so; do
      readelf -S -W "$so" 2>/dev/null | grep -q '\.debug_info' || continue
      readelf -d "$so" 2>/dev/null | grep -qE 'RPATH|RUNPATH' && continue
      strip --strip-debug "$so" || exit 1
    done || die "stripping the debug sections failed"
  else
    echo "gpu_check: no strip/readelf here: the compiled modules keep their debug sections" >&2
  fi
  # xz: about half of what the wheels' zip compression gives.
  "$py" benchmarks/gpu_env.py pack "$stage" "$archive" "$preset" || die "packing $stage failed"
}

hamr_wheel() {  # PYTHON WHEELS: spacy-hamr's wheel, built from a copy (no build/ left in the tree)
  local src; src=$(mktemp -d) || exit 1
  cp -r pyproject.toml setup.cfg README.md LICENSE spacy_hamr "$src/" \
    && "$1" -m pip wheel --quiet --no-deps --no-build-isolation --no-index -w "$2" "$src"
  local rc=$?; rm -rf "$src"; [ "$rc" = 0 ] || die "building spacy-hamr's wheel failed"
}

tiny_data() {  # DIR PYTHON [corpora]: the random-weights transformer, and with "corpora" generated corpora
  "$2" - "$1" "${3:-}" <<'EOF' || die "tiny data failed"
import sys
from pathlib import Path
from tests.conftest import generated_corpus, textcat_examples
from tests.tiny_transformer import save_tiny_bert
out = Path(sys.argv[1])
if sys.argv[2] == "corpora":
    generated_corpus(out / "corpus" / "textcat", "textcat", n_train=120)
    generated_corpus(out / "corpus" / "ner", "ner", n_train=120)
save_tiny_bert(out / "tiny-bert", [w for eg in textcat_examples(120) for w in eg.reference.text.split()])
EOF
}

tree_bytes() {  # what travels beside the carried folder: tracked and untracked-not-ignored files
  (git ls-files -z; git ls-files -z --others --exclude-standard) | sort -zu \
    | xargs -0 stat -c %s 2>/dev/null | awk '{s += $1} END {print s + 0}'
}

prepare() {
  local py=$ROOT/.venv/bin/python carry=$CHECK/carry
  rm -rf "$CHECK/wheels" "$CHECK/stage" "$carry" && mkdir -p "$CHECK/wheels" "$carry" || exit 1
  "$py" benchmarks/gpu_env.py carried --python-version 3.12 > "$carry/carried.txt" || die "carried list failed"
  "$py" -m pip download --quiet --no-deps "${SERVER_WHEELS[@]}" -d "$CHECK/wheels" -r "$carry/carried.txt" \
    || die "pip download failed"
  hamr_wheel "$py" "$CHECK/wheels"
  build_site "$py" "$CHECK/wheels" "$CHECK/stage" "$carry/site.tar.xz" "${GPU_CHECK_XZ_PRESET:-6}" \
    "${SERVER_WHEELS[@]}"
  "$py" -m spacy hamr convert "$DATASETS" "$carry/corpus" --datasets "cyclone_idai_2019 mit_restaurant" \
    || die "converting the corpora failed"
  tiny_data "$carry" "$py"
  local wheels carried tree
  wheels=$(du -cb "$CHECK"/wheels/*.whl | tail -1 | cut -f1)
  carried=$(du -sb "$carry" | cut -f1)
  tree=$(tree_bytes)
  {
    echo "wheels (zip): $((wheels / 1024)) KiB; site folder: $(du -sb "$CHECK/stage" | cut -f1) bytes"
    du -b "$carry/site.tar.xz" "$carry/corpus" "$carry/tiny-bert" -s
    echo "carried: $((carried / 1024)) KiB; working tree: $((tree / 1024)) KiB; one call: $(((carried + tree) / 1024)) KiB of 65536"
  } | tee "$CHECK/sizes.txt"
  [ "$carried" -le "$CARRY_LIMIT" ] || die "the carried folder is over $((CARRY_LIMIT / 1048576)) MiB"
  [ $((carried + tree)) -le $((64 * 1024 * 1024)) ] || die "the carried folder and the working tree are over 64 MiB"
}

# ---- the steps on the server (and in the dry run), each recorded in $RESULTS/status.json ----

say() { echo "[gpu-check] $*" | tee -a "$LOG"; }

record() {  # NAME STATE SECONDS [DETAIL]
  PYTHONPATH= "$PY" "$ROOT/benchmarks/gpu_env.py" step "$STATUS" "$@" || echo "[gpu-check] could not write $STATUS"
}

step() {  # NAME LOGFILE COMMAND...: runs it, its output to LOGFILE (and the screen), records it
  local name=$1 log=$2 t0=$SECONDS rc; shift 2
  say "== $name"
  record "$name" running 0
  "$@" 2>&1 | tee -a "$log"
  rc=${PIPESTATUS[0]}
  if [ "$rc" = 0 ]; then record "$name" ok $((SECONDS - t0)); else
    record "$name" failed $((SECONDS - t0)) "exit $rc"; FAILED="$FAILED $name"; fi
  say "$name: exit $rc after $((SECONDS - t0)) s"
  return "$rc"
}

finish() {  # the last word, also on an early stop; status.json was written after every step
  local rc=$?
  trap - EXIT TERM INT
  [ -n "$FAILED" ] && rc=1
  [ -n "${STOPPED:-}" ] && rc=1 && record stopped failed $((SECONDS - START)) "$STOPPED"
  say "finished after $((SECONDS - START)) s, exit $rc${FAILED:+; failed:$FAILED}${STOPPED:+; stopped: $STOPPED}"
  [ -f "$RESULTS/gpu_check.json" ] && PYTHONPATH= "$PY" - "$RESULTS/gpu_check.json" <<'EOF' | tee -a "$LOG"
import json, sys
r = json.load(open(sys.argv[1]))
print(f"timing on {r['device']}, {r['epochs']} epochs:")
for name, run in r["runs"].items():
    if run.get("plain_s"):
        print(f"  {name}: plain {run['plain_s']} s, hamr {run['hamr_s']} s, ratio {run['ratio_median']:.2f} ({run['ratio_per_update']:.2f} per update), updates {run['updates']}")
    else:
        print(f"  {name}: no whole pair ({run.get('error', '')[-300:] or '; '.join(run['left_out'])})")
EOF
  exit "$rc"
}

run_steps() {  # CARRY SITE RESULTS GPU_ID TEXTCAT NER REPEATS EPOCHS STRICT(1/0)
  local carry=$1 site=$2 gpu_id=$4 textcat=$5 ner=$6 repeats=$7 epochs=$8 strict=$9
  RESULTS=$3
  mkdir -p "$RESULTS" || exit 1
  LOG=$RESULTS/gpu_check.log STATUS=$RESULTS/status.json FAILED="" STOPPED="" START=$SECONDS
  DEADLINE=$(( $(date +%s) + BUDGET ))  # for the timing, which starts none of its trainings past it
  rm -f "$STATUS" "$LOG" "$RESULTS/gpu_check.json"
  trap finish EXIT
  trap 'STOPPED="killed (signal) after $((SECONDS - START)) s"; exit 143' TERM INT
  export HF_HUB_OFFLINE=1 TRANSFORMERS_OFFLINE=1 HF_DATASETS_OFFLINE=1 PYTHONUNBUFFERED=1 PYTHONNOUSERSITE=1 \
    TOKENIZERS_PARALLELISM=false
  say "python: $(command -v "$PY") ($("$PY" -c 'import sys; print(sys.version.split()[0], sys.prefix)')); budget ${BUDGET} s"
  command -v nvidia-smi >/dev/null && nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader \
    2>&1 | sed 's/^/[gpu-check] nvidia-smi: /' | tee -a "$LOG"
  [ -f "$carry/site.tar.xz" ] || { STOPPED="no $carry/site.tar.xz: run prepare here and carry $carry"; exit 1; }
  # Without the packages, nothing else can run: these two stop the check.
  step install "$LOG" "$PY" benchmarks/gpu_env.py install "$carry/site.tar.xz" "$site" \
    || { STOPPED="install failed"; exit 1; }
  export PYTHONPATH="$ROOT:$site"  # the tree's spacy_hamr, then the carried packages, then the image's
  step check "$LOG" "$PY" benchmarks/gpu_env.py check "$ROOT" "$site" "$carry/carried.txt" "$RESULTS/check.json" \
    || { STOPPED="the carried packages do not import as they must (check.json)"; exit 1; }
  if [ "${GPU_CHECK_SKIP_PREFLIGHT:-0}" = 1 ]; then
    say "preflight SKIPPED: GPU_CHECK_SKIP_PREFLIGHT=1 (the CPU dry run); the gpu tests will skip"
    record preflight skipped 0 "GPU_CHECK_SKIP_PREFLIGHT=1"
  else
    step preflight "$LOG" "$PY" benchmarks/gpu_env.py preflight "$RESULTS/preflight.json" \
      || { STOPPED="preflight: torch, cupy or thinc do not see the GPU (preflight.json)"; exit 1; }
  fi
  # A failing gpu test leaves the timing its turn; the exit status says it at the end. Only the
  # tests' own plugins: none of the image's (xdist, cov, ...) is loaded beside the carried packages.
  local tests_s=$(( TESTS_S < BUDGET - (SECONDS - START) - 60 ? TESTS_S : BUDGET - (SECONDS - START) - 60 ))
  [ "$tests_s" -gt 10 ] || tests_s=10
  step gpu_tests "$RESULTS/gpu_tests.log" env PYTEST_DISABLE_PLUGIN_AUTOLOAD=1 timeout -k 10 "$tests_s" "$PY" -m pytest tests/test_gpu.py -m gpu -v -rs \
    -p no:cacheprovider --junitxml "$RESULTS/gpu_tests.xml"
  step gpu_tests_counted "$LOG" "$PY" benchmarks/gpu_env.py tests "$RESULTS/gpu_tests.xml" \
    $([ "$strict" = 1 ] && echo --strict)
  step timing "$LOG" "$PY" benchmarks/gpu_timing.py --gpu-id "$gpu_id" --repeats "$repeats" --epochs "$epochs" \
    --deadline "$DEADLINE" \
    --run "textcat_cnn:project/configs/textcat_cnn.cfg:$carry/corpus/$textcat" \
    --run "ner_cnn:project/configs/ner_cnn.cfg:$carry/corpus/$ner" \
    --run "textcat_trf:project/configs/textcat_trf.cfg:$carry/corpus/$textcat:$carry/tiny-bert" \
    --work "$(dirname "$site")/work" --out "$RESULTS/gpu_check.json"
  exit 0  # finish() sets the status from the failed steps
}

run() {
  PY="${GPU_CHECK_PYTHON:-python3}"
  run_steps "$CHECK/carry" "$CHECK/site" "${OUT:-$CHECK/out}" 0 cyclone_idai_2019 mit_restaurant "$REPEATS" "$EPOCHS" 1
}

dry_run() {
  local dir py="${PYTHON:-python}"
  mkdir -p "$1" && dir=$(cd "$1" && pwd) || exit 1
  mkdir -p "$dir/carry"
  # The server's side: a stand-in of its image, a venv made from inside this one.
  "$py" benchmarks/gpu_env.py fake-image "$dir/image" || die "the stand-in image failed"
  # What `prepare` does, for the local Python, from this venv's packages instead of PyPI's.
  "$py" benchmarks/gpu_env.py carried > "$dir/carry/carried.txt" || die "carried list failed"
  "$py" benchmarks/gpu_env.py repack "$dir/wheels" "$dir/carry/carried.txt" || die "repacking failed"
  hamr_wheel "$py" "$dir/wheels"
  build_site "$py" "$dir/wheels" "$dir/stage" "$dir/carry/site.tar.xz" "${GPU_CHECK_XZ_PRESET:-none}"
  rm -rf "$dir/wheels" "$dir/stage"
  tiny_data "$dir/carry" "$py" corpora
  echo "[dry-run] stand-in image and carried folder made in $SECONDS s"
  export GPU_CHECK_SKIP_PREFLIGHT="${GPU_CHECK_SKIP_PREFLIGHT:-1}"
  PY="$dir/image/bin/python"
  run_steps "$dir/carry" "$dir/site" "$dir/out" -1 textcat ner 1 1 0
}

case "${1:-}" in
  prepare) prepare ;;
  run) run ;;
  dry-run) [ -n "${2:-}" ] || { echo "usage: $0 dry-run DIR" >&2; exit 2; }; dry_run "$2" ;;
  *) echo "usage: $0 prepare | run | dry-run DIR" >&2; exit 2 ;;
esac
