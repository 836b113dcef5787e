#!/usr/bin/env bash
# The GPU path proven in one short run, on a machine with a CUDA GPU; each step has its own
# time limit (100 + 240 + 50 + 60 s = 450 s), so the whole stays under 8 minutes:
#   1. the tests marked gpu (pytest -m gpu: layers against cuDNN, mixed-precision training,
#      the adaptive softmax under autocast, checkpoints saved on the GPU and loaded on the CPU,
#      make reproduce's tiny run on CUDA and its resume, right answers computed on CUDA passing
#      the checks);
#   2. bench/bench_rnn.py: reference and fused layers against cuDNN (training step, its four
#      GPU shapes), the reference under torch.compile and under CUDA graphs (its CPU section
#      runs first);
#   3. bench/bench_lm_training.py on CUDA under bf16 autocast: LM training tokens/s of
#      rnnlab.train + RNNLM against PyTorch's word_language_model loop, one epoch;
#   4. bench/bench_output_layer.py on CUDA under bf16 autocast: full, tied and adaptive softmax
#      in the same LSTM LM, one epoch (time, parameters, output-layer share, perplexities);
# then one table of what they measured. Run from the repository root: bash bench/gpu.sh
# (PYTHON=... to choose the interpreter; the results' JSON lands in bench/results/).
set -u
cd "$(dirname "$0")/.."
PYTHON=${PYTHON:-.venv/bin/python}
export PYTHONPATH="$PWD/lib:$PWD${PYTHONPATH:+:$PYTHONPATH}"
status=0

if ! "$PYTHON" -c "import torch, sys; sys.exit(not torch.cuda.is_available())"; then
    echo "bench/gpu.sh: no CUDA device here (torch.cuda.is_available() is False); nothing to run"
    exit 2
fi
RESULTS=bench/results/gpu-$(date -u +%Y%m%d-%H%M%S)
mkdir -p "$RESULTS"
nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv,noheader || true
"$PYTHON" -c "import torch; print('torch', torch.__version__, 'CUDA', torch.version.cuda, 'cuDNN', torch.backends.cudnn.version(), 'bf16', torch.cuda.is_bf16_supported())"

echo "== 1. pytest -m gpu"
timeout 100 "$PYTHON" -m pytest lib/tests tests -m gpu -q -p no:cacheprovider 2>&1 | tee "$RESULTS/pytest.txt" | tail -15
[ "${PIPESTATUS[0]}" -eq 0 ] || status=1

echo "== 2. bench/bench_rnn.py (CPU, then CUDA against cuDNN)"
timeout 240 "$PYTHON" bench/bench_rnn.py --reps 10 --threads 8 --out "$RESULTS" > "$RESULTS/bench_rnn.txt" 2>&1
[ $? -eq 0 ] || { status=1; tail -20 "$RESULTS/bench_rnn.txt"; }

echo "== 3. bench/bench_lm_training.py --device cuda --amp"
timeout 50 "$PYTHON" bench/bench_lm_training.py --device cuda --amp --out "$RESULTS" > "$RESULTS/bench_lm_training.txt" 2>&1
[ $? -eq 0 ] || { status=1; tail -20 "$RESULTS/bench_lm_training.txt"; }

echo "== 4. bench/bench_output_layer.py --device cuda --amp"
timeout 60 "$PYTHON" bench/bench_output_layer.py --device cuda --amp --threads 8 \
    --out "$RESULTS/bench_output_layer-cuda.json" > "$RESULTS/bench_output_layer.txt" 2>&1
[ $? -eq 0 ] || { status=1; tail -20 "$RESULTS/bench_output_layer.txt"; }

echo "== the table"
"$PYTHON" bench/gpu_table.py "$RESULTS"
echo "(all outputs in $RESULTS)"
exit $status
