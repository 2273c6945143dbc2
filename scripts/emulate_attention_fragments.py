#!/usr/bin/env python3
"""Emulates, lane by lane, the fragment logic of mx_attn_fwd (mx-engine/src/main/cuda/mx_attention.cu)
for one warp (16 query rows) and one 64-key tile, using the PTX ISA fragment layouts of
mma.m16n8k32 with 8-bit A/B (A row-major 16x32, B col-major 32x8, C/D 16x8). Quantization is
left out (values stay FP64): the point is that Q/K fragment loads, the P packing into A
fragments and the permuted V loads agree, so the warp computes softmax(Q Kᵀ) V. Run: python3 this."""
import numpy as np

D = 64
rng = np.random.default_rng(0)
Q = rng.standard_normal((16, D))
K = rng.standard_normal((64, D))
V = rng.standard_normal((64, D))


def mma(a_regs, b_regs):
    """a_regs[lane] = 4 regs x 4 elements; b_regs[lane] = 2 regs x 4 elements -> c[lane] = 4 values."""
    A = np.zeros((16, 32))
    B = np.zeros((32, 8))
    for lane in range(32):
        g, t = lane >> 2, lane & 3
        for i in range(16):
            row = g if (i < 4 or 8 <= i < 12) else g + 8
            col = t * 4 + (i & 3) + (16 if i >= 8 else 0)
            A[row, col] = a_regs[lane][i // 4][i % 4]
        for i in range(8):
            k = t * 4 + (i & 3) + (16 if i >= 4 else 0)
            B[k, g] = b_regs[lane][i // 4][i % 4]
    C = A @ B
    out = []
    for lane in range(32):
        g, t = lane >> 2, lane & 3
        out.append([C[g, 2 * t], C[g, 2 * t + 1], C[g + 8, 2 * t], C[g + 8, 2 * t + 1]])
    return np.array(out)


# ---- S = Q·Kᵀ: qf / K loads as in the kernel ----
S = np.zeros((32, 8, 4))
for n in range(8):
    for ks in range(D // 32):
        a = []
        b = []
        for lane in range(32):
            g, t = lane >> 2, lane & 3
            c0 = ks * 32 + 4 * t
            a.append([Q[g, c0:c0 + 4], Q[g + 8, c0:c0 + 4], Q[g, c0 + 16:c0 + 20], Q[g + 8, c0 + 16:c0 + 20]])
            krow = K[n * 8 + g]
            b.append([krow[c0:c0 + 4], krow[c0 + 16:c0 + 20]])
        S[:, n, :] += mma(a, b)

# Check S against Q Kᵀ through the C layout.
ref_S = Q @ K.T
for lane in range(32):
    g, t = lane >> 2, lane & 3
    for n in range(8):
        for e in range(4):
            row = g + (8 if e >= 2 else 0)
            key = n * 8 + 2 * t + (e & 1)
            assert abs(S[lane, n, e] - ref_S[row, key]) < 1e-9

# ---- softmax per row (max over the 4 threads of a group, as the shuffles do) ----
P = np.zeros_like(S)
rowsum = np.zeros((32, 2))
for lane in range(32):
    g = lane >> 2
    grp = range(g * 4, g * 4 + 4)
    mA = max(S[l, :, e].max() for l in grp for e in (0, 1))
    mB = max(S[l, :, e].max() for l in grp for e in (2, 3))
    P[lane, :, 0:2] = np.exp(S[lane, :, 0:2] - mA)
    P[lane, :, 2:4] = np.exp(S[lane, :, 2:4] - mB)
    rowsum[lane] = [P[lane, :, 0:2].sum(), P[lane, :, 2:4].sum()]

# ---- P fragments as packed by the kernel: (chunk, reg) <- n-tile within >> 1, halves by within & 1 ----
pf = [[[[0.0] * 4 for _ in range(4)] for _ in range(2)] for _ in range(32)]
for lane in range(32):
    for n in range(8):
        chunk, within = n >> 2, n & 3
        reg = (within >> 1) * 2
        half = (within & 1) * 2  # byte offset 0 or 2 inside the register
        lo = [P[lane, n, 0], P[lane, n, 1]]
        hi = [P[lane, n, 2], P[lane, n, 3]]
        pf[lane][chunk][reg][half:half + 2] = lo
        pf[lane][chunk][reg + 1][half:half + 2] = hi

# ---- P·V with the permuted V loads ----
O = np.zeros((32, D // 8, 4))
for nd in range(D // 8):
    for chunk in range(2):
        b = []
        for lane in range(32):
            g, t = lane >> 2, lane & 3
            col = V[:, nd * 8 + g]  # Vt row: channel nd*8+g over keys
            base = chunk * 32
            b0 = [col[base + 2 * t], col[base + 2 * t + 1], col[base + 8 + 2 * t], col[base + 9 + 2 * t]]
            b1 = [col[base + 16 + 2 * t], col[base + 17 + 2 * t], col[base + 24 + 2 * t], col[base + 25 + 2 * t]]
            b.append([b0, b1])
        a = [pf[lane][chunk] for lane in range(32)]
        O[:, nd, :] += mma(a, b)

# ---- normalize (sum over the group's 4 threads) and compare ----
ref = np.exp(ref_S - ref_S.max(axis=1, keepdims=True))
ref = (ref / ref.sum(axis=1, keepdims=True)) @ V
worst = 0.0
for lane in range(32):
    g, t = lane >> 2, lane & 3
    grp = range(g * 4, g * 4 + 4)
    lA = sum(rowsum[l][0] for l in grp)
    lB = sum(rowsum[l][1] for l in grp)
    for nd in range(D // 8):
        c = nd * 8 + 2 * t
        worst = max(worst, abs(O[lane, nd, 0] / lA - ref[g, c]), abs(O[lane, nd, 1] / lA - ref[g, c + 1]),
                    abs(O[lane, nd, 2] / lB - ref[g + 8, c]), abs(O[lane, nd, 3] / lB - ref[g + 8, c + 1]))
print("max |emulated - reference| =", worst)
assert worst < 1e-9, worst
print("fragment logic consistent")
