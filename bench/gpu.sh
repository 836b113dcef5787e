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
"$PYTHON" - "$RESULTS" <<'EOF'
import json, sys
from pathlib import Path

folder = Path(sys.argv[1])
tests = (folder / "pytest.txt").read_text().strip().splitlines()
print("pytest -m gpu:", tests[-1] if tests else "no output")
rnn = sorted(folder.glob("bench_rnn-*.json"))
lm = sorted(folder.glob("bench_lm_training-*.json"))
output = sorted(folder.glob("bench_output_layer-*.json"))
print(f"\n{'what':44s} {'ms or tokens/s':>26s} {'x cuDNN / x example':>20s}")
if rnn:
    report = json.loads(rnn[-1].read_text())
    print(f"layers, one training step, {report.get('gpu_name')}, float32 (ms; time / cuDNN's)")
    for row in report.get("gpu", []):
        for impl, ms in row["ms"].items():
            if impl != "torch.nn":
                print(f"  {row['kind']:4s} {str(tuple(row['shape'])):20s} {impl:18s} "
                      f"{ms:10.2f} ms (cuDNN {row['ms']['torch.nn']:7.2f}) {row['ratio'][impl]:10.2f}")
else:
    print("bench_rnn.py wrote no results")
if lm:
    report = json.loads(lm[-1].read_text())
    print(f"LM training, {report['corpus']}, {report['windows']} windows, {report['dtype']} "
          "(tokens/s; speed-up over the example)")
    for impl, speed in report["tokens_per_second"].items():
        print(f"  {impl:44s} {speed:12,.0f} tokens/s {report['ratio_over_example'][impl]:10.2f}"
              f"   valid ppl {report['valid_perplexity'][impl]:.2f}")
    print("  target (fused >= 1.0x, perplexity within 1%):", "met" if report["target_met"] else "MISSED")
else:
    print("bench_lm_training.py wrote no results")
if output:
    report = json.loads(output[-1].read_text())
    print(f"output layers, {report['corpus']}, vocabulary {report['vocabulary']:,}, {report['dtype']} "
          "(s per epoch; time / the full softmax's)")
    for name, row in report["rows"].items():
        print(f"  {name:44s} {row['epoch_seconds']:10.2f} s/epoch {row['time_ratio']:10.2f}"
              f"   {row['parameters']:,} parameters, output share {100 * row['output_share']['fraction']:.0f}%,"
              f" test ppl {row['test_perplexity']:.1f}")
else:
    print("bench_output_layer.py wrote no results")
EOF
echo "(all outputs in $RESULTS)"
exit $status
