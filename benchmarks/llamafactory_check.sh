#!/usr/bin/env bash
# Check a llamafactory export with LLaMA-Factory's own data loader, in a venv of its own.
#
#   bash benchmarks/llamafactory_check.sh [--venv DIR] [--trace-db DB] [--work DIR]
#
# LLaMA-Factory 0.9.5 cannot share vlmforge[train]'s venv (it pins trl <= 0.24,
# transformers <= 5.6, datasets <= 4.0 and imports torchvision and torchaudio), so this:
#   1. builds DIR (default ~/.cache/vlmforge/llamafactory-venv) once: torch 2.9.1 + torchvision 0.24.1 +
#      torchaudio 2.9.* (a matching trio; on x86_64 PyPI's torch is a CUDA build, about 7 GB, and
#      runs on the CPU), then llamafactory==0.9.5 with its pinned dependencies;
#   2. with vlmforge's venv (the active one): builds a tiny Qwen2-VL model and exports DB (default:
#      a fresh 2-episode Crafter eval of the random policy) with --exporter llamafactory;
#   3. runs benchmarks/llamafactory_check.py in LLaMA-Factory's venv on the export (its
#      get_dataset: dataset_info.json, sharegpt, the qwen2_vl template and multimodal plugin),
#      which prints a table, writes WORK/llamafactory_check.json and exits 1 if a check fails.
# Then `VLMFORGE_LLAMAFACTORY_PYTHON=DIR/bin/python pytest tests/filter/test_llamafactory_target.py`
# runs the same loader from the test suite.
set -euo pipefail

here="$(cd "$(dirname "$0")" && pwd)"
venv="${XDG_CACHE_HOME:-$HOME/.cache}/vlmforge/llamafactory-venv"
db=""
work="$(mktemp -d)"
while [[ $# -gt 0 ]]; do
    case "$1" in
        --venv) venv="$2"; shift 2 ;;
        --trace-db) db="$2"; shift 2 ;;
        --work) work="$2"; shift 2 ;;
        -h|--help) sed -n '2,21p' "$0"; exit 0 ;;
        *) echo "error: unknown option '$1' (see --help)" >&2; exit 2 ;;
    esac
done
command -v vlmforge >/dev/null || { echo "error: activate vlmforge's venv first" >&2; exit 2; }
mkdir -p "$work"

if [[ ! -x "$venv/bin/python" ]] || ! "$venv/bin/python" -c "import llamafactory" 2>/dev/null; then
    echo "building LLaMA-Factory's venv in $venv"
    python3 -m venv "$venv"
    "$venv/bin/pip" install -q --upgrade pip
    "$venv/bin/pip" install -q torch==2.9.1 torchvision==0.24.1
    "$venv/bin/pip" install -q torch==2.9.1 'torchaudio==2.9.*'
    "$venv/bin/pip" install -q llamafactory==0.9.5 torch==2.9.1 torchvision==0.24.1 'torchaudio==2.9.*'
fi

if [[ -z "$db" ]]; then
    db="$work/random.db"
    vlmforge eval --env crafter --policy random --seeds 0-1 --max-steps 20 --trace-db "$db" \
        --run-name lf-check >/dev/null
fi
vlmforge models tiny --out "$work/tiny" --overwrite >/dev/null
vlmforge filter --trace-db "$db" --exporter llamafactory --output-dir "$work/export" \
    --val-fraction 0 --overwrite --no-progress >/dev/null
"$venv/bin/python" "$here/llamafactory_check.py" --model "$work/tiny" --export "$work/export" \
    --json "$work/llamafactory_check.json"
echo "numbers: $work/llamafactory_check.json"
