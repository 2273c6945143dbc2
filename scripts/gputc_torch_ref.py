#!/usr/bin/env python3
"""PyTorch reference timings for the split-BF16 tensor-core benchmark (CudaLinearBenchmark tc): linear at
all-MiniLM-L6-v2's shapes in FP32 (TF32 off, as the MiniLM comparison runs it), FP32 with TF32, and BF16,
and the attention matmuls (batched, 12 heads of 32 per sentence, batch 32), measured as the Java harness
does: CUDA events around batches of 10 calls after warm-up, median of 30, random (never zero) data."""
import torch
import torch.nn.functional as F

import gpu_torch_ref  # same folder: the shared CUDA-event timer


def median_ms(fn, warmup=20, reps=30):
    return gpu_torch_ref.median_ms(fn, warmup, reps)


def result(name, us, flops):
    print(f"RESULT {name:<44} {us:12.3f} us       {flops / (us * 1e-6) / 1e12:.2f} TFLOP/s", flush=True)


def main():
    dev = torch.device("cuda")
    print(f"torch {torch.__version__}, {torch.cuda.get_device_name(0)}", flush=True)
    torch.manual_seed(0)
    for (k, n) in [(384, 384), (384, 1536), (1536, 384)]:
        w32 = torch.randn(n, k, device=dev) * 0.05
        for m in [8, 16, 24, 32, 64, 128, 256, 512, 1024, 2048]:
            x32 = torch.randn(m, k, device=dev)
            dims = f"{m}x{k}x{n}"
            flops = 2.0 * m * n * k
            torch.backends.cuda.matmul.allow_tf32 = False
            result(f"torch_fp32_linear_{dims}", median_ms(lambda: F.linear(x32, w32)) * 1000, flops)
            torch.backends.cuda.matmul.allow_tf32 = True
            result(f"torch_tf32_linear_{dims}", median_ms(lambda: F.linear(x32, w32)) * 1000, flops)
            torch.backends.cuda.matmul.allow_tf32 = False
            xb, wb = x32.bfloat16(), w32.bfloat16()
            result(f"torch_bf16_linear_{dims}", median_ms(lambda: F.linear(xb, wb)) * 1000, flops)
    torch.backends.cuda.matmul.allow_tf32 = False
    for length in [16, 32, 64]:
        b, d = 32 * 12, 32
        q = torch.randn(b, length, d, device=dev)
        kt = torch.randn(b, d, length, device=dev)
        sc = torch.randn(b, length, length, device=dev)
        flops = 2.0 * b * length * length * d
        result(f"torch_fp32_attn_scores_{b}x{length}x{d}x{length}", median_ms(lambda: torch.bmm(q, kt)) * 1000, flops)
        result(f"torch_fp32_attn_context_{b}x{length}x{length}x{d}", median_ms(lambda: torch.bmm(sc, q)) * 1000, flops)
        qb, kb, sb = q.bfloat16(), kt.bfloat16(), sc.bfloat16()
        result(f"torch_bf16_attn_scores_{b}x{length}x{d}x{length}", median_ms(lambda: torch.bmm(qb, kb)) * 1000, flops)


if __name__ == "__main__":
    main()
