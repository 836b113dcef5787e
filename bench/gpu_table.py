"""The one table of ``bench/gpu.sh``: what its four steps measured, read from the JSON they
wrote into the results folder it is given (``python bench/gpu_table.py RESULTS``)."""

import json
import sys
from pathlib import Path


def latest(folder: Path, script: str):
    """The newest report that ``script`` wrote into ``folder``, or None (said so)."""
    found = sorted(folder.glob(f"{script}-*.json"))
    if not found:
        print(f"{script}.py wrote no results")
        return None
    return json.loads(found[-1].read_text())


def layers(report) -> None:
    print(f"layers, one training step, {report.get('gpu_name')}, float32 (ms; time / cuDNN's)")
    for row in report.get("gpu", []):
        for impl, ms in row["ms"].items():
            if impl != "torch.nn":
                print(f"  {row['kind']:4s} {str(tuple(row['shape'])):20s} {impl:18s} "
                      f"{ms:10.2f} ms (cuDNN {row['ms']['torch.nn']:7.2f}) {row['ratio'][impl]:10.2f}")


def lm_training(report) -> None:
    print(f"LM training, {report['corpus']}, {report['windows']} windows, {report['dtype']} "
          "(tokens/s; speed-up over the example)")
    for impl, speed in report["tokens_per_second"].items():
        print(f"  {impl:44s} {speed:12,.0f} tokens/s {report['ratio_over_example'][impl]:10.2f}"
              f"   valid ppl {report['valid_perplexity'][impl]:.2f}")
    print("  target (fused >= 1.0x, perplexity within 1%):", "met" if report["target_met"] else "MISSED")


def output_layers(report) -> None:
    print(f"output layers, {report['corpus']}, vocabulary {report['vocabulary']:,}, {report['dtype']} "
          "(s per epoch; time / the full softmax's)")
    for name, row in report["rows"].items():
        print(f"  {name:44s} {row['epoch_seconds']:10.2f} s/epoch {row['time_ratio']:10.2f}"
              f"   {row['parameters']:,} parameters, output share {100 * row['output_share']['fraction']:.0f}%,"
              f" test ppl {row['test_perplexity']:.1f}")


def main(folder: Path) -> None:
    tests = (folder / "pytest.txt").read_text().strip().splitlines()
    print("pytest -m gpu:", tests[-1] if tests else "no output")
    print(f"\n{'what':44s} {'ms or tokens/s':>26s} {'x cuDNN / x example':>20s}")
    for script, section in (("bench_rnn", layers), ("bench_lm_training", lm_training),
                            ("bench_output_layer", output_layers)):
        report = latest(folder, script)
        if report is not None:
            section(report)


if __name__ == "__main__":
    main(Path(sys.argv[1]))
