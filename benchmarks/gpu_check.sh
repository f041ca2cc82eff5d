#!/usr/bin/env bash
# The prepared GPU check (see benchmarks/gpu_check.py): on the GPU machine, from the
# repository root with zoo and the backends installed,
#   bash benchmarks/gpu_check.sh              # the table for RESULTS.md
#   bash benchmarks/gpu_check.sh --cpu-smoke  # the same path for a few steps on CPU (CI runs this)
set -euo pipefail
cd "$(dirname "$0")/.."
if [[ " $* " != *" --cpu-smoke "* ]]; then
    nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv,noheader || true
fi
exec python benchmarks/gpu_check.py "$@"
