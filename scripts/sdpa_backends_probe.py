#!/usr/bin/env python3
"""What PyTorch on the GPU machine offers for attention at the issue's shape (B=4, H=32, S=4096, D=128): SDPA in
BF16 on each backend, and whether any backend takes FP8 E4M3 inputs (2026-11-29 on the H200: none does, so there
is no vendor FP8 attention to time beside the MX kernel). Also lists the attention packages importable there.
Usage on the device: python3 scripts/sdpa_backends_probe.py"""
import statistics, importlib, torch, torch.nn.functional as F
from torch.nn.attention import sdpa_kernel, SDPBackend
print(torch.__version__, torch.cuda.get_device_name(0), "cudnn", torch.backends.cudnn.version())
for m in ("flash_attn", "flash_attn_interface", "sageattention", "transformer_engine", "cudnn", "triton"):
    try:
        mod = importlib.import_module(m); print("have", m, getattr(mod, "__version__", ""))
    except Exception as e:
        print("no", m, type(e).__name__)
def med(fn, w=3, r=15):
    for _ in range(w): fn()
    torch.cuda.synchronize(); ts=[]
    for _ in range(r):
        s=torch.cuda.Event(enable_timing=True); e=torch.cuda.Event(enable_timing=True)
        s.record(); fn(); e.record(); e.synchronize(); ts.append(s.elapsed_time(e))
    return statistics.median(ts)
b,h,s,d=4,32,4096,128
q,k,v=(torch.randn(b,h,s,d,device="cuda",dtype=torch.bfloat16) for _ in range(3))
ops=4*b*h*s*s*d
for be in (SDPBackend.CUDNN_ATTENTION, SDPBackend.FLASH_ATTENTION, SDPBackend.EFFICIENT_ATTENTION):
    with sdpa_kernel(be):
        try:
            ms=med(lambda: F.scaled_dot_product_attention(q,k,v)); print("bf16", be, f"{ms:.3f} ms {ops/ms/1e9:.1f} TFLOP/s")
        except Exception as e: print("bf16", be, "fails", str(e)[:200])
q8,k8,v8=(t.to(torch.float8_e4m3fn) for t in (q,k,v))
for be in (SDPBackend.CUDNN_ATTENTION, SDPBackend.FLASH_ATTENTION, SDPBackend.EFFICIENT_ATTENTION, SDPBackend.MATH):
    with sdpa_kernel(be):
        try:
            ms=med(lambda: F.scaled_dot_product_attention(q8,k8,v8), 1, 5); print("fp8", be, f"{ms:.3f} ms {ops/ms/1e9:.1f} TFLOP/s")
        except Exception as e: print("fp8", be, "fails", type(e).__name__, str(e)[:300])
for name in dir(torch.ops.aten):
    if "cudnn" in name and "attention" in name: print("op", name)
