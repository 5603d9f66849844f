#!/usr/bin/env bash
# The GPU rows of docs/benchmarks.md in one go, within 10 minutes on one GPU
# (a first run on an H200 with limits of 70 + 90 + 130 s cut every part:
# compiling, the breakdown under CUDA_LAUNCH_BLOCKING and the batch search
# each need more):
#   1. train_step of the paper's 128 model (configs/coordgan_celeba.py), batch 2
#      per device: fp32 and bf16 with the phase breakdown (fp32), and fp32 with
#      the grouped-conv modulated convs (fused_modconv=True, the authors' form);
#   2. bf16 + torch.compile;
#   3. the dense-affinity warp loss beside the chunked one (batch 2), and the
#      largest per-device batch whose peak allocated memory stays under 70 GiB
#      for both (doubling from 16, then bisection to steps of 8, finer below
#      16, capped at 64; each search starts no try after 80 s).
# Each part runs under `timeout`; the JSON files are written after every
# variant, so a part cut short keeps what it measured.
#
#   bash benchmarks/gpu_rows.sh OUT_DIR
#
# A dry run of the same commands on the CPU (tiny widths, 32 px):
#   DEVICE=cpu CONFIG=configs/coordgan_synthetic.py WIDTH=0.0625 BUDGET_GIB=1.5 \
#       bash benchmarks/gpu_rows.sh /tmp/rows
set -u
out=${1:?usage: bash benchmarks/gpu_rows.sh OUT_DIR}
mkdir -p "$out"
cd "$(dirname "$0")/.."
export PYTHONPATH=.${PYTHONPATH:+:$PYTHONPATH}
device=${DEVICE:-cuda}
config=${CONFIG:-configs/coordgan_celeba.py}
width=${WIDTH:-1}
budget=${BUDGET_GIB:-70}
common=(--config "$config" --width "$width" --device "$device" --batch 2)

{ nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv 2>/dev/null
  python -c 'import torch; print("torch", torch.__version__, "cuda", torch.version.cuda)'
} > "$out/machine.txt"

part() {  # part NAME TIMEOUT_S ARGS...: one benchmark run, its table and JSON
    local name=$1 limit=$2 start=$SECONDS
    shift 2
    timeout "$limit" python benchmarks/train_step.py "${common[@]}" "$@" \
        --json "$out/$name.json" 2>&1 | tee "$out/$name.txt"
    echo "$name: $((SECONDS - start)) s, exit ${PIPESTATUS[0]} (124: cut at ${limit} s)" \
        | tee -a "$out/$name.txt"
}

part precision 170 --variants fp32 bf16 fp32+fused-modconv --repeats 5 \
    --warmup 3 --breakdown
# Compiling G, D and the patch D (several graphs each: with and without
# gradients) takes most of this part; the JSON is empty if it runs out.
part compile 240 --variants bf16+compile --repeats 5 --warmup 3
part warp_and_max_batch 180 --variants fp32 --warp dense --repeats 3 \
    --warmup 2 --max-batch-budget-gib "$budget" --max-batch-cap 64 \
    --batch-start 16 --batch-step 8 --search-time-s 80
