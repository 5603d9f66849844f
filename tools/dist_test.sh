#!/usr/bin/env bash
# bash tools/dist_test.sh CONFIG CHECKPOINT GPUS [test.py options]
# CHECKPOINT '-' means none (feature baselines read weights from the config).
# NNODES, NODE_RANK, MASTER_ADDR, PORT select a multi-machine run.
set -euo pipefail
CONFIG=$1
CHECKPOINT=$2
GPUS=$3
NNODES=${NNODES:-1}
NODE_RANK=${NODE_RANK:-0}
PORT=${PORT:-29500}
MASTER_ADDR=${MASTER_ADDR:-"127.0.0.1"}
CKPT_ARGS=()
[ "$CHECKPOINT" != "-" ] && CKPT_ARGS=("$CHECKPOINT")
cd "$(dirname "$0")/.."
PYTHONPATH="$(pwd):${PYTHONPATH:-}" \
torchrun --nnodes="$NNODES" --node_rank="$NODE_RANK" --master_addr="$MASTER_ADDR" \
    --nproc_per_node="$GPUS" --master_port="$PORT" \
    tools/test.py "$CONFIG" "${CKPT_ARGS[@]}" --launcher pytorch "${@:4}"
