// 5q. mx_attn_wg1q_d128 / _d64 (CudaAttention.Kernel.WGMMA_1WG_PIPE128): the pipelined Hopper forward pass of
// 5p (mx_attn_fwd_wgp in mx_attention.cu: one warpgroup, 64 queries per CTA, two CTAs per SM, FP8 P·V; head
// dims 128 and 64) with 128-key tiles, which halves every per-tile cost that does not scale with the keys: the
// barrier, the mbarrier wait, the fences and commits, the row-max shuffles, the alpha exp2s and the
// O = alpha·O + acc join (64 FFMA per thread per tile).
// - A 128-key stage is two consecutive 64-key tiles as the quantization launches store them (each the
//   exact shared-memory image): the two K images together are one 128-key core-matrix image (8-key groups
//   D·8 bytes apart), so S = Q·Kᵀ is D/32 × wgmma m64n128k32 s8 on one descriptor; the two Vᵀ images
//   (D channels × 64 keys each) stay separate, so P·V is 2 × 2 k32 steps of m64n136k32 e4m3 on two
//   descriptors. One bulk copy brings both K tiles (16 KiB) and one each Vᵀ tile (8 KiB); three stages.
// - The softmax row sums come from the tensor cores, as in 5p: each Vᵀ half is followed by 8 rows of E4M3
//   ones (written once at kernel start; the copies never touch them), so P·V's N = 136 and accumulators
//   64..67 hold the sums of P as rounded for the MMA, which the join rescales with O. The 64 FADDs per thread
//   and step leave the softmax (2026-11-28 13:41 UTC on the H200: step 2,284 -> 2,192 cycles with two CTAs
//   per SM, 1,775 -> 1,660 alone; still 255 registers, no spill).
// - K's scale is per 64-key tile, so the two halves of a 128-key score tile carry different scales: each
//   half has its own exponent offset (the interior path) or its own scaled scores (the general path).
// - The launcher pads the key length to 128 for this kernel, so every stage is two whole tiles (a tile
//   past the keys is all zero codes with scale 0, and its keys are masked like any padding key).
// - Q lives in shared memory (its 64 × 128-byte core-matrix image, written once) and Q·Kᵀ reads both
//   operands from descriptors: the 16 Q fragment registers are free for the 64 score registers (255
//   registers, no spill). P stays 64 FP32 values until P·V of the previous tile is waited for, then is
//   packed, as in 5p: packing it earlier into a second fragment set (16 registers instead of 64) made ptxas
//   serialize every wgmma (C7513), the pack defining a wgmma input inside the pipeline stage.
// The pipeline is 5p's: step j issues Q·Kᵀ(j+1) and P·V(j), waits for the first, computes softmax(j+1)
// while P·V(j) runs, then waits for P·V(j) and joins it; branch-free, last tile peeled (a conditional
// wgmma issue or wait makes ptxas serialize every wgmma).

constexpr int MX_ATTN_TILE128 = 128;

// P·448 (p of mx_attn_wg_softmax_n<2>) as the A fragments of the two 64-key halves' P·V.
__device__ __forceinline__ void mx_attn_wg128_pack(const float (&p)[64], uint32_t (&pf)[4][4]) {
  mx_attn_wg_pack<false>(*reinterpret_cast<const float(*)[32]>(&p[0]), *reinterpret_cast<uint32_t(*)[2][4]>(&pf[0]));
  mx_attn_wg_pack<false>(*reinterpret_cast<const float(*)[32]>(&p[32]),
                         *reinterpret_cast<uint32_t(*)[2][4]>(&pf[2]));
}

// S = Q·Kᵀ of one 128-key stage: D/32 wgmma m64n128k32 s8 k-steps (256 bytes apart), one group (not waited).
// qd: the descriptor of Q's shared-memory image (the same core-matrix layout as a K tile).
template <int D>
__device__ __forceinline__ void mx_attn_wg128_issue_qk(int (&s)[64], uint64_t qd, uint64_t kd) {
#pragma unroll
  for (int ks = 0; ks < D / 32; ks++) mx_attn_wg_s8_n128_ss(s, qd + 16 * ks, kd + 16 * ks, ks > 0);
  mx_attn_wg_commit();
}

// P·V of one 128-key stage into fresh accumulators: two k32 steps on each 64-key Vᵀ half, one group; N = 136:
// each half carries 8 rows of ones after its 128 channels, so accumulators 64..67 get P's row sums.
template <int D>
__device__ __forceinline__ void mx_attn_wg128_issue_pv(float (&acc)[D / 2 + 4], const uint32_t (&pf)[4][4],
                                                       uint64_t vd0, uint64_t vd1) {
  mx_attn_wg_pv_sum<D>(acc, pf[0], vd0, 0);
  mx_attn_wg_pv_sum<D>(acc, pf[1], vd0 + 16, 1);
  mx_attn_wg_pv_sum<D>(acc, pf[2], vd1, 1);
  mx_attn_wg_pv_sum<D>(acc, pf[3], vd1 + 16, 1);
  mx_attn_wg_commit();
}

// TIMED (a profiling build, mx_attn_wg1q_timed_d128): thread 0 of each CTA adds up the clock cycles of each
// phase of the loop step (0 stage wait + barrier + load issue, 1 MMA issue, 2 Q·Kᵀ wait, 3 softmax, 4 P·V
// wait, 5 join + pack) and writes them, with the loop's total, its step count, the cycles from the kernel's
// entry to the loop (the prologue, tile 0 included) and from the loop's end to after the stores (the
// epilogue), to timing[10·cta ..].
// MT (the masked launch mx_attn_wg1q_mt_dD): the mask's tile constants, as in mx_attn_fwd_wgp.
template <int D, bool TIMED, bool MT = false>
__device__ __forceinline__ void mx_attn_fwd_wgq(const int8_t* __restrict__ qq, const float* __restrict__ qscale,
                                                const int8_t* __restrict__ kq, const float* __restrict__ kscale,
                                                const void* __restrict__ vtRaw, const float* __restrict__ vscale,
                                                const float* __restrict__ mask, long mb, long mh, long mq,
                                                float* __restrict__ out, long ob, long oh, long os, int heads,
                                                int sq, int sk, int sqPad, int skPad, int causal, int posScale,
                                                long long* timing, const float* __restrict__ mtile = nullptr,
                                                long tb = 0, long th = 0, long tq = 0) {
  constexpr int KBYTES = MX_ATTN_TILE128 * D;   // two 64-key K tile images
  constexpr int VHALF = D * MX_ATTN_TILE;       // one 64-key Vᵀ tile image
  constexpr int ONES = 8 * MX_ATTN_TILE;        // 8 rows of E4M3 ones after each Vᵀ half (the row sums)
  constexpr int VSLOT = VHALF + ONES;
  constexpr int STAGE = KBYTES + 2 * VSLOT;
  constexpr int STAGES = 3;  // tile j+1's K and tile j's V in use, tile j+2 landing
  extern __shared__ __align__(128) uint8_t attnDynSmem[];
  uint8_t* attnSmem = attnDynSmem;
  uint64_t* fullBar = reinterpret_cast<uint64_t*>(attnDynSmem + STAGES * STAGE);

  long long tEntry = 0;
  if constexpr (TIMED) tEntry = clock64();
  const int bh = blockIdx.y, tid = threadIdx.x;
  const int warp = tid >> 5, lane = tid & 31, g = lane >> 2, t = lane & 3;
  const int q0 = (gridDim.x - 1 - blockIdx.x) * 64;
  const int rA = q0 + warp * 16 + g, rB = rA + 8;
  const int8_t* kb = kq + (long)bh * skPad * D;
  const uint8_t* vg = static_cast<const uint8_t*>(vtRaw) + (long)bh * D * skPad;
  const float* ksb = kscale + (long)bh * (skPad / MX_ATTN_TILE);
  const float qsA = qscale[(long)bh * sqPad + rA], qsB = qscale[(long)bh * sqPad + rB];
  const float* maskA;
  const float* maskB;
  uint32_t qf[D / 32][4];
  mx_attn_rows<D>(qq, bh, sqPad, rA, rB, t, qf, mask, mb, mh, mq, heads, sq, maskA, maskB);
  const float* mt = nullptr;  // this CTA's row of the mask's 64-key tile constants (MT)
  if constexpr (MT) mt = mtile + (long)(bh / heads) * tb + (long)(bh % heads) * th + (long)(q0 / 64) * tq;
  auto tileOff = [&](int half) -> float {
    if constexpr (MT) return mt[half]; else return 0.f;
  };
  // Q's 64 rows as the core-matrix image wgmma reads as its A operand (after the stages and barriers), so
  // its 16 fragment registers are free for the 128-key tiles.
  uint8_t* qsm = attnDynSmem + STAGES * STAGE + 64;
  mx_attn_q_image<D>(qf, qsm, warp * 16 + g, t);
  for (int i = tid; i < STAGES * 2 * ONES / 4; i += blockDim.x) {  // E4M3 1.0, never overwritten by a copy
    const int slot = i / (ONES / 4);
    reinterpret_cast<uint32_t*>(attnSmem + (slot >> 1) * STAGE + KBYTES + (slot & 1) * VSLOT + VHALF)[i % (ONES / 4)] =
        0x38383838u;
  }
  asm volatile("fence.proxy.async.shared::cta;\n" ::: "memory");  // generic-proxy writes -> wgmma reads
  const uint64_t qd = mx_attn_desc(qsm, D * 8);
  mx_attn_bar_init<STAGES>(fullBar);  // its __syncthreads also publishes Q's image
  auto load = [&](int tl) {
    if (threadIdx.x == 0) {  // three bulk copies: both K tiles, then each Vᵀ half before its ones
      uint8_t* st = attnSmem + (tl % STAGES) * STAGE;
      const uint32_t b = (uint32_t)__cvta_generic_to_shared(&fullBar[tl % STAGES]);
      mx_attn_bar_expect(b, KBYTES + 2 * VHALF);
      mx_attn_bulk(st, kb + (long)tl * KBYTES, KBYTES, b);
      mx_attn_bulk(st + KBYTES, vg + (long)tl * 2 * VHALF, VHALF, b);
      mx_attn_bulk(st + KBYTES + VSLOT, vg + (long)tl * 2 * VHALF + VHALF, VHALF, b);
    }
  };
  auto landed = [&](int tl) {
    mx_attn_bar_wait((uint32_t)__cvta_generic_to_shared(&fullBar[tl % STAGES]), (tl / STAGES) & 1);
  };
  auto stage = [&](int tl) -> const uint8_t* { return attnSmem + (tl % STAGES) * STAGE; };
  // k0, k1: the K scales of tile tl's two halves, loaded a step ahead (a load in the step itself put its
  // latency between the MMA issues)
  // m0, m1: the mask constants of its halves (MT), loaded a step ahead with the K scales
  auto softmax = [&](const int (&s)[64], int tl, float k0, float k1, float m0, float m1, float& alA, float& alB,
                     float (&p)[64], float& mA, float& mB, float& lA, float& lB) {
    const int j0 = tl * MX_ATTN_TILE128;
    const bool flat = MT ? !isnan(m0) && !isnan(m1) : mask == nullptr;
    const bool interior =
        j0 + MX_ATTN_TILE128 <= sk && flat && posScale && (!causal || j0 + MX_ATTN_TILE128 - 1 <= q0);
    const float scA[2] = {qsA * k0, qsA * k1}, scB[2] = {qsB * k0, qsB * k1};
    if constexpr (MT) {
      // the mask rows again from the kernel's parameters, not held across the loop (4 registers: the masked
      // build spilled 36 bytes with them)
      const float* base = mask + (long)(bh / heads) * mb + (long)(bh % heads) * mh;
      const float off[2] = {m0, m1};
      mx_attn_wg_softmax_n<2, false, true>(s, interior, j0, t, sk, causal, rA, rB, scA, scB, mask,
                                           base + (long)min(rA, sq - 1) * mq, base + (long)min(rB, sq - 1) * mq, mA,
                                           mB, lA, lB, alA, alB, p, off);
    } else {
      mx_attn_wg_softmax_n<2, false>(s, interior, j0, t, sk, causal, rA, rB, scA, scB, mask, maskA, maskB, mA, mB,
                                     lA, lB, alA, alB, p);
    }
  };

  float o[D / 2 + 4], acc[D / 2 + 4];  // O, then the row sums (accumulators 64..67)
#pragma unroll
  for (int i = 0; i < D / 2 + 4; i++) o[i] = acc[i] = 0.f;
  float mA = -INFINITY, mB = -INFINITY, lA = 0.f, lB = 0.f;

  int tiles = skPad / MX_ATTN_TILE128;
  if (causal) tiles = min(tiles, min(q0 + 63, sq - 1) / MX_ATTN_TILE128 + 1);
  load(0);
  if (tiles > 1) load(1);

  // Tile 0: scores and P before the loop.
  int s[64];
#pragma unroll
  for (int i = 0; i < 64; i++) s[i] = 0;
  float alA, alB, p[64];
  uint32_t pf[4][4];
  landed(0);
  mx_attn_wg_fence();
  mx_attn_wg128_issue_qk<D>(s, qd, mx_attn_kdesc<D>(stage(0)));
  mx_attn_wg_wait_i64(s);
  softmax(s, 0, ksb[0], ksb[1], tileOff(0), tileOff(1), alA, alB, p, mA, mB, lA, lB);
  mx_attn_wg128_pack(p, pf);
  float kNext0 = ksb[2 * min(1, tiles - 1)], kNext1 = ksb[2 * min(1, tiles - 1) + 1];
  float mNext0 = tileOff(2 * min(1, tiles - 1)), mNext1 = tileOff(2 * min(1, tiles - 1) + 1);

  long long ph[6] = {0, 0, 0, 0, 0, 0}, t0 = 0, tStart = 0;
  auto stamp = [&](int phase) {
    if constexpr (TIMED) {
      const long long c = clock64();
      if (phase >= 0) ph[phase] += c - t0;
      t0 = c;
    }
  };
  stamp(-1);
  tStart = t0;
  for (int tile = 0; tile + 1 < tiles; tile++) {
    const float k0 = kNext0, k1 = kNext1, m0 = mNext0, m1 = mNext1;  // tile + 1's
    const int after = min(tile + 2, tiles - 1);
    kNext0 = ksb[2 * after];
    kNext1 = ksb[2 * after + 1];
    mNext0 = tileOff(2 * after);
    mNext1 = tileOff(2 * after + 1);
    landed(tile + 1);
    __syncthreads();  // every thread is past P·V(tile-1)'s wait: that stage can be refilled
    const uint8_t* vs = stage(tile) + KBYTES;
    const uint64_t kd = mx_attn_kdesc<D>(stage(tile + 1));
    const uint64_t vd0 = mx_attn_vdesc<false>(vs), vd1 = mx_attn_vdesc<false>(vs + VSLOT);
    stamp(0);
    mx_attn_wg_fence();
    mx_attn_wg128_issue_qk<D>(s, qd, kd);
    mx_attn_wg128_issue_pv<D>(acc, pf, vd0, vd1);
    // The refill after the MMA issue: the warpgroup's MMAs do not wait for the loading thread.
    if (tile + 2 < tiles) load(tile + 2);
    stamp(1);
    float nA, nB;
    mx_attn_wg_wait1_i64(s);  // Q·Kᵀ(tile+1) done, P·V(tile) may still run
    stamp(2);
    softmax(s, tile + 1, k0, k1, m0, m1, nA, nB, p, mA, mB, lA, lB);
    stamp(3);
    mx_attn_wg_wait_sum<D>(acc);
    stamp(4);
#pragma unroll
    for (int kk = 0; kk < 4; kk++) mx_attn_keep(pf[kk]);
    mx_attn_wg_join(o, acc, alA, alB);
    alA = nA;
    alB = nB;
    // P's fragments are rewritten only now: P·V(tile) read them until the wait above.
    mx_attn_wg128_pack(p, pf);
    stamp(5);
  }
  // The last tile's P·V (its stage landed before its scores were computed).
  const uint8_t* vs = stage(tiles - 1) + KBYTES;
  mx_attn_wg_fence();
  mx_attn_wg128_issue_pv<D>(acc, pf, mx_attn_vdesc<false>(vs), mx_attn_vdesc<false>(vs + VSLOT));
  mx_attn_wg_wait_sum<D>(acc);
#pragma unroll
  for (int kk = 0; kk < 4; kk++) mx_attn_keep(pf[kk]);
  mx_attn_wg_join(o, acc, alA, alB);
  mx_attn_wg_store<D, D / 2 + 4>(o, lA, lB, vscale + (long)bh * D, out, ob, oh, os, bh, heads, sq, rA, rB, t);
  if constexpr (TIMED) {
    if (tid == 0) {
      const long long tExit = clock64();
      long long* w = timing + 10 * ((long)blockIdx.y * gridDim.x + blockIdx.x);
      for (int i = 0; i < 6; i++) w[i] = ph[i];
      w[6] = t0 - tStart;
      w[7] = tiles - 1;
      w[8] = tStart - tEntry;
      w[9] = tExit - t0;
    }
  }
}

// Dynamic shared memory at D = 128: 3 stages × (128 keys × 128 K bytes + 2 × 136 rows × 64 Vᵀ bytes) + 64
// bytes of barriers + Q's 64 × 128-byte image = 109,632 bytes (two CTAs per SM); at D = 64, 56,384 bytes (two
// CTAs per SM, by registers: 204). Needs the key length padded to 128 (launcher). Each head dim has a timed
// build too (the loop's phases, TIMED above, for CudaAttentionBenchmark). At D = 64 Q comes from shared memory
// as at 128, so the Q fragment registers the register-A kernels lose at 64 (mx_attn_fwd_wg) are not involved.
#define MX_ATTN_FWD_WGQ(D)                                                                                    \
  extern "C" __global__ void __launch_bounds__(128, 2) mx_attn_wg1q_d##D(                                    \
      const int8_t* qq, const float* qscale, const int8_t* kq, const float* kscale, const void* vt,        \
      const float* vscale, const float* mask, long mb, long mh, long mq, float* out, long ob, long oh,       \
      long os, int heads, int sq, int sk, int sqPad, int skPad, int causal, int posScale) {                  \
    mx_attn_fwd_wgq<D, false>(qq, qscale, kq, kscale, vt, vscale, mask, mb, mh, mq, out, ob, oh, os, heads, sq, \
                              sk, sqPad, skPad, causal, posScale, nullptr);                                  \
  }                                                                                                          \
  extern "C" __global__ void __launch_bounds__(128, 2) mx_attn_wg1q_timed_d##D(                              \
      const int8_t* qq, const float* qscale, const int8_t* kq, const float* kscale, const void* vt,        \
      const float* vscale, const float* mask, long mb, long mh, long mq, float* out, long ob, long oh,       \
      long os, int heads, int sq, int sk, int sqPad, int skPad, int causal, int posScale,                    \
      long long* timing) {                                                                                   \
    mx_attn_fwd_wgq<D, true>(qq, qscale, kq, kscale, vt, vscale, mask, mb, mh, mq, out, ob, oh, os, heads, sq, \
                             sk, sqPad, skPad, causal, posScale, timing);                                    \
  }
MX_ATTN_FWD_WGQ(128)
MX_ATTN_FWD_WGQ(64)
// The masked launch: the mask's tile constants (mx_attn_mask_tiles) let flat tiles keep the short softmax path.
#define MX_ATTN_FWD_WGQ_MT(D)                                                                                 \
  extern "C" __global__ void __launch_bounds__(128, 2) mx_attn_wg1q_mt_d##D(                                 \
      const int8_t* qq, const float* qscale, const int8_t* kq, const float* kscale, const void* vt,        \
      const float* vscale, const float* mask, long mb, long mh, long mq, float* out, long ob, long oh,       \
      long os, int heads, int sq, int sk, int sqPad, int skPad, int causal, int posScale, const float* mtile, \
      long tb, long th, long tq) {                                                                           \
    mx_attn_fwd_wgq<D, false, true>(qq, qscale, kq, kscale, vt, vscale, mask, mb, mh, mq, out, ob, oh, os, heads, \
                                    sq, sk, sqPad, skPad, causal, posScale, nullptr, mtile, tb, th, tq);     \
  }
MX_ATTN_FWD_WGQ_MT(128)
MX_ATTN_FWD_WGQ_MT(64)
