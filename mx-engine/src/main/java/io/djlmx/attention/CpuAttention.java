package io.djlmx.attention;

import java.util.concurrent.atomic.AtomicBoolean;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * MX attention on the CPU over FFM memory segments: out = softmax(scale·Q·Kᵀ + mask)·V.
 *
 * <p>Head dimensions 32, 64, 96 and 128 run the low-bit kernel ({@link CpuSageAttention}); any
 * other runs exact FP32 attention, which is logged once per JVM. Tensors are FP32 in native byte
 * order with the layout of {@link AttentionConfig#layout()} (or any strides, through {@link
 * TensorView}); the mask is additive, broadcast to [B, H, Sq, Sk]. Causal hides key j from query i
 * when j &gt; i (top-left aligned, as PyTorch's {@code is_causal}). A row whose every score is -∞
 * (fully masked) yields a zero row (PyTorch would give NaN). NaN in an input propagates to the
 * outputs that depend on it (with block quantization: every output of the quantization block); the
 * kernel has no data-dependent loop, so it never hangs.
 */
public final class CpuAttention {

  private static final Logger logger = LoggerFactory.getLogger(CpuAttention.class);
  private static final AtomicBoolean FALLBACK_LOGGED = new AtomicBoolean();

  private CpuAttention() {}

  /**
   * Returns whether head dimension {@code headDim} takes the low-bit fast path.
   *
   * @param headDim the head dimension
   * @return true when the low-bit kernel runs
   */
  public static boolean isFastPath(int headDim) {
    return CpuSageAttention.supports(headDim);
  }

  /**
   * Computes attention into {@code out}.
   *
   * @param shape the sizes
   * @param q queries [B, H, Sq, D] (by the view's strides)
   * @param k keys [B, H, Sk, D]
   * @param v values [B, H, Sk, D]
   * @param out the output [B, H, Sq, D], written
   * @param mask additive mask broadcast to [B, H, Sq, Sk] (see {@link TensorView#ofMask}), or null
   * @param causal whether key j is hidden from query i when j &gt; i
   * @param scale the softmax scale, null for 1/√D
   * @param cfg the quantization choices
   * @throws IllegalArgumentException when a view does not fit its memory or the scale is not finite
   */
  public static void compute(
      AttentionShape shape,
      TensorView q,
      TensorView k,
      TensorView v,
      TensorView out,
      TensorView mask,
      boolean causal,
      Float scale,
      AttentionConfig cfg) {
    int b = shape.batch();
    int h = shape.heads();
    int d = shape.headDim();
    q.checkFits("query", b, h, shape.queryLength(), d);
    k.checkFits("key", b, h, shape.keyLength(), d);
    v.checkFits("value", b, h, shape.keyLength(), d);
    out.checkFits("output", b, h, shape.queryLength(), d);
    if (mask != null) {
      mask.checkFits("mask", b, h, shape.queryLength(), shape.keyLength());
    }
    float s = scale == null ? (float) (1.0 / Math.sqrt(d)) : scale;
    if (!Float.isFinite(s)) {
      throw new IllegalArgumentException("Attention scale must be finite, got " + s);
    }
    if (CpuSageAttention.supports(d)) {
      CpuSageAttention.compute(shape, q, k, v, out, mask, causal, s, cfg);
    } else {
      if (FALLBACK_LOGGED.compareAndSet(false, true)) {
        logger.info(
            "MX attention: head dim {} has no low-bit CPU kernel (32, 64, 96, 128 do); using exact FP32"
                + " attention for such heads",
            d);
      }
      ExactAttention.compute(shape, q, k, v, out, mask, causal, s, cfg.parallelism());
    }
  }
}
