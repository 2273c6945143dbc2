#!/usr/bin/env python3
"""PyTorch BF16 (and FP32, TF32 off) linear at all-MiniLM-L6-v2's shapes, for the pre-split tensor-core benchmark
(CudaLinearBenchmark tcs): the same rows and shapes, timed as the Java harness does (CUDA events around batches of
10 calls after warm-up, median of 30) both eagerly and replaying a CUDA graph of the 10 calls, so the graph rows
are the GPU time of cuBLAS without Python's launch cost. Random (never zero) data."""
import torch
import torch.nn.functional as F

import gpu_torch_ref  # same folder: the shared CUDA-event timer

PER_BATCH = 10


def result(name, us, flops):
    print(f"RESULT {name:<44} {us:12.3f} us       {flops / (us * 1e-6) / 1e12:.2f} TFLOP/s", flush=True)


def graph_us(fn):
    """Median GPU time of one call: a CUDA graph of PER_BATCH calls replayed between events."""
    s = torch.cuda.Stream()
    s.wait_stream(torch.cuda.current_stream())
    with torch.cuda.stream(s):
        for _ in range(3):
            fn()
    torch.cuda.current_stream().wait_stream(s)
    g = torch.cuda.CUDAGraph()
    with torch.cuda.graph(g):
        for _ in range(PER_BATCH):
            fn()
    return gpu_torch_ref.median_ms(g.replay, 5, 30) * 1000 / PER_BATCH


def main():
    dev = torch.device("cuda")
    print(f"torch {torch.__version__}, {torch.cuda.get_device_name(0)}", flush=True)
    torch.manual_seed(0)
    torch.backends.cuda.matmul.allow_tf32 = False
    for (k, n) in [(384, 1152), (384, 384), (384, 1536), (1536, 384)]:
        w32 = torch.randn(n, k, device=dev) * 0.05
        wb = w32.bfloat16()
        for m in [32, 128, 512, 1024, 1664, 2048]:
            x32 = torch.randn(m, k, device=dev)
            xb = x32.bfloat16()
            dims = f"{m}x{k}x{n}"
            flops = 2.0 * m * n * k
            result(f"torch_bf16_linear_{dims}", gpu_torch_ref.median_ms(lambda: F.linear(xb, wb), 20, 30) * 1000, flops)
            result(f"torch_bf16_graph_{dims}", graph_us(lambda: F.linear(xb, wb)), flops)
            result(f"torch_fp32_graph_{dims}", graph_us(lambda: F.linear(x32, w32)), flops)


if __name__ == "__main__":
    main()
