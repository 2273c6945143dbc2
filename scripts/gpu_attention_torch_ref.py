#!/usr/bin/env python3
"""PyTorch SDPA reference for the MX attention GPU benchmark, measured like CudaAttentionBenchmark:
CUDA events around each call, warm-up first, median of the repetitions, random-normal BF16 inputs."""
import statistics
import sys

import torch
import torch.nn.functional as F


def median_ms(fn, warmup, reps):
    for _ in range(warmup):
        fn()
    torch.cuda.synchronize()
    times = []
    for _ in range(reps):
        s = torch.cuda.Event(enable_timing=True)
        e = torch.cuda.Event(enable_timing=True)
        s.record()
        fn()
        e.record()
        e.synchronize()
        times.append(s.elapsed_time(e))
    return statistics.median(times)


def main():
    quick = len(sys.argv) > 1 and sys.argv[1] == "quick"
    reps = 5 if quick else 15
    dev = torch.device("cuda")
    print(f"torch {torch.__version__}, {torch.cuda.get_device_name(0)}", flush=True)
    torch.manual_seed(0)
    b, h, s = 4, 32, 4096
    # head dim 128 (the shape), then 64 (BERT-base and GPT-2 heads); d64 only when asked
    for d in (128, 64) if "d64" in sys.argv[1:] else (128,):
        q, k, v = (torch.randn(b, h, s, d, device=dev, dtype=torch.bfloat16) for _ in range(3))
        for causal in (False, True):
            ms = median_ms(lambda: F.scaled_dot_product_attention(q, k, v, is_causal=causal), 3, reps)
            ops = 4 * b * h * s * s * d / (2 if causal else 1)
            tag = f"torch_sdpa_bf16_b4h32s4096d{d}_{'causal' if causal else 'full'}"
            print(f"RESULT {tag:<44} {ops / (ms * 1e-3) / 1e12:12.3f} TOPS     {ms:.3f} ms", flush=True)


if __name__ == "__main__":
    main()
