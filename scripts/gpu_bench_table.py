#!/usr/bin/env python3
"""Turns the RESULT lines of a gpu-run.sh call (bench-java.log, bench-torch.log) into the Markdown tables
of docs/bench/gpu.md, with the ratios to the PyTorch baselines measured in the same call."""
import re
import sys


def read(path):
    out = {}
    for line in open(path):
        m = re.match(r"RESULT (\S+)\s+([0-9.]+) (\S+)\s*(.*)", line)
        if m:
            out[m.group(1)] = (float(m.group(2)), m.group(3), m.group(4).strip())
    return out


def main(folder):
    j = read(f"{folder}/bench-java.log")
    t = read(f"{folder}/bench-torch.log")
    bf16 = t["torch_bf16_linear_1x16384x16384"][0]
    print("| 1×16384→16384, batch 1 | median µs | vs torch BF16 | weight GB/s | target |")
    print("|---|---|---|---|---|")
    print(f"| torch BF16 `F.linear` | {bf16:.1f} | 1.00× | {t['torch_bf16_linear_1x16384x16384'][2].split()[0]} | |")
    targets = {"MXFP4_E2M1": "3×", "MXFP6_E3M2": "2.2×", "MXFP6_E2M3": "2.2×", "MXFP8_E4M3": "1.6×",
               "MXFP8_E5M2": "1.6×", "MXINT8": ""}
    for f, tgt in targets.items():
        v, _, extra = j[f"gemv_1x16384x16384_{f}"]
        gbs = extra.split(",")[-1].strip().split()[0]
        print(f"| MX {f} weight-only | {v:.1f} | {bf16 / v:.2f}× | {gbs} | {tgt} |")
        if f"gemv_wa_1x16384x16384_{f}" in j:
            w = j[f"gemv_wa_1x16384x16384_{f}"][0]
            print(f"| MX {f} weight + activation (x quantized on device) | {w:.1f} | {bf16 / w:.2f}× | | |")
    print()
    b4 = t["torch_bf16_linear_1x4096x4096"][0]
    b8 = t["torch_bf16_linear_8x16384x16384"][0]
    b512 = t["torch_bf16_linear_512x4096x4096"][0]
    print("| other linear shapes | median µs | torch BF16 µs | ratio |")
    print("|---|---|---|---|")
    for key, base in [("gemv_1x4096x4096", b4), ("weightonly_8x16384x16384", b8), ("weightonly_512x4096x4096", b512)]:
        for name, (v, _, _) in j.items():
            if name.startswith(key + "_"):
                print(f"| {name} | {v:.1f} | {base:.1f} | {base / v:.2f}× |")
    print()
    print("| GEMM | TFLOP/s | ms | vs `_scaled_mm` FP8 row-wise (fast accum off / on) |")
    print("|---|---|---|---|")
    for size in (8192, 4096):
        s0 = t[f"torch_scaled_mm_fp8_rowwise_{size}_fastacc0"][0]
        s1 = t[f"torch_scaled_mm_fp8_rowwise_{size}_fastacc1"][0]
        print(f"| torch BF16 {size}³ | {t[f'torch_bf16_gemm_{size}'][0]:.0f} | {t[f'torch_bf16_gemm_{size}'][2].split()[0]} | |")
        print(f"| torch `_scaled_mm` FP8 row-wise {size}³, fast accum off / on | {s0:.0f} / {s1:.0f} | | 1.00× |")
        for name, (v, unit, extra) in j.items():
            if name.endswith(f"{size}x{size}x{size}") and unit == "TFLOP/s":
                ms = extra.split()[0]
                print(f"| {name} | {v:.0f} | {ms} | {v / s0:.2f}× / {v / s1:.2f}× |")
    print()
    print(f"Device copy 1 GiB: {t['copy_1GiB'][0]:.0f} GB/s (read + write).")


if __name__ == "__main__":
    main(sys.argv[1] if len(sys.argv) > 1 else "gpu-out")
