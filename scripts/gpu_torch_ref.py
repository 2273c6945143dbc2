#!/usr/bin/env python3
"""PyTorch reference timings for the MX GPU benchmarks, measured the same way as the Java harness:
CUDA events around each call, warm-up first, median of the repetitions, random (never zero) data."""
import statistics
import sys

import torch
import torch.nn.functional as F


PER_BATCH = 10


def median_ms(fn, warmup, reps):
    """Median time of one call: reps batches of PER_BATCH back-to-back calls between two events."""
    for _ in range(warmup):
        fn()
    torch.cuda.synchronize()
    times = []
    for _ in range(reps):
        s = torch.cuda.Event(enable_timing=True)
        e = torch.cuda.Event(enable_timing=True)
        s.record()
        for _ in range(PER_BATCH):
            fn()
        e.record()
        e.synchronize()
        times.append(s.elapsed_time(e) / PER_BATCH)
    return statistics.median(times)


def result(name, value, unit, extra=""):
    print(f"RESULT {name:<44} {value:12.3f} {unit:<8} {extra}", flush=True)


def main():
    quick = len(sys.argv) > 1 and sys.argv[1] == "quick"
    gemm_only = len(sys.argv) > 1 and sys.argv[1] == "gemm"
    reps = 10 if quick else 30
    dev = torch.device("cuda")
    print(f"torch {torch.__version__}, {torch.cuda.get_device_name(0)}", flush=True)
    torch.manual_seed(0)
    linear_shapes = [] if gemm_only else [(1, 16384, 16384), (1, 4096, 4096), (8, 16384, 16384), (512, 4096, 4096)]
    for (m, n, k) in linear_shapes:
        w = torch.randn(n, k, device=dev, dtype=torch.bfloat16) * 0.02
        x = torch.randn(m, k, device=dev, dtype=torch.bfloat16)
        ms = median_ms(lambda: F.linear(x, w), 20, reps)
        result(f"torch_bf16_linear_{m}x{k}x{n}", ms * 1000, "us",
               f"{w.numel() * 2 / (ms * 1e-3) / 1e9:.0f} GB/s of weights")
        del w, x
    gemm_shapes = [(8192, 8192, 8192), (4096, 4096, 4096)] + ([(4096, 14336, 4096)] if gemm_only else [])
    for (m, n, k) in gemm_shapes:
        size = m if m == n else f"{m}x{n}x{k}"
        a = torch.randn(m, k, device=dev, dtype=torch.bfloat16)
        b = torch.randn(n, k, device=dev, dtype=torch.bfloat16)
        ms = median_ms(lambda: a @ b.t(), 3, 10 if gemm_only else 5 if size == 8192 else 10)
        result(f"torch_bf16_gemm_{size}", 2 * m * n * k / (ms * 1e-3) / 1e12, "TFLOP/s", f"{ms:.3f} ms")
        a8 = a.to(torch.float8_e4m3fn)
        b8 = b.to(torch.float8_e4m3fn)
        sa = torch.rand(m, 1, device=dev, dtype=torch.float32) + 0.5
        sb = torch.rand(1, n, device=dev, dtype=torch.float32) + 0.5
        for fast in (False, True):
            fn = lambda: torch._scaled_mm(a8, b8.t(), scale_a=sa, scale_b=sb,
                                          out_dtype=torch.bfloat16, use_fast_accum=fast)
            ms = median_ms(fn, 3, 10 if gemm_only else 5 if size == 8192 else 10)
            result(f"torch_scaled_mm_fp8_rowwise_{size}_fastacc{int(fast)}",
                   2 * m * n * k / (ms * 1e-3) / 1e12, "TFLOP/s", f"{ms:.3f} ms")
        del a, b, a8, b8
    if gemm_only:
        return
    # Device-to-device copy: the memory ceiling (bytes read + written).
    src = torch.randn(256 * 1024 * 1024, device=dev)
    dst = torch.empty_like(src)
    ms = median_ms(lambda: dst.copy_(src), 5, 20)
    result("copy_1GiB", 2 * src.numel() * 4 / (ms * 1e-3) / 1e9, "GB/s", f"{ms:.3f} ms")


if __name__ == "__main__":
    main()
