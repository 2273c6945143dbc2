"""Launches scripts/mufu_probe.cu's kernels (a cubin) through the CUDA driver API and prints the cycles
per warp-level MUFU.EX2 per SM sub-partition, for 1, 2 and 4 warps per sub-partition (one CTA per SM).
Usage (GPU machine, PyTorch for the CUDA context and buffers): python3 mufu_probe.py mufu_probe.cubin"""
import ctypes
import sys

import torch

cubin = sys.argv[1].encode()
torch.zeros(1, device="cuda")  # creates and binds the primary context
cu = ctypes.CDLL("libcuda.so.1")
mod = ctypes.c_void_p()
assert cu.cuModuleLoad(ctypes.byref(mod), cubin) == 0
sms = torch.cuda.get_device_properties(0).multi_processor_count
iters = 4096
for name in (b"mufu_probe", b"mufu_fma_probe", b"mufu_f16x2_probe", b"mufu_bf16x2_probe"):
    fn = ctypes.c_void_p()
    assert cu.cuModuleGetFunction(ctypes.byref(fn), mod, name) == 0
    for per_smsp in (1, 2, 4):
        threads = 128 * per_smsp
        out = torch.empty(sms * threads, device="cuda")
        cyc = torch.zeros(sms * threads // 32, dtype=torch.int64, device="cuda")
        a0 = ctypes.c_void_p(out.data_ptr())
        a1 = ctypes.c_void_p(cyc.data_ptr())
        a2 = ctypes.c_int(iters)
        args = (ctypes.c_void_p * 3)(*[ctypes.cast(ctypes.byref(a), ctypes.c_void_p) for a in (a0, a1, a2)])
        for _ in range(3):
            assert cu.cuLaunchKernel(fn, sms, 1, 1, threads, 1, 1, 0, None, args, None) == 0
        torch.cuda.synchronize()
        mean = cyc.double().mean().item()
        # each warp issued iters * 8 MUFU; per_smsp warps share one sub-partition's MUFU unit
        per_instr = mean / (iters * 8 * per_smsp)
        print(f"RESULT {name.decode():15s} warps_per_smsp={per_smsp} cycles_per_warp_mufu_per_smsp={per_instr:.2f}"
              f" (warp loop {mean:.0f} cycles)")
