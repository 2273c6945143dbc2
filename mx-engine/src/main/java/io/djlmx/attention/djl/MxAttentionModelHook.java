package io.djlmx.attention.djl;

import ai.djl.nn.Block;
import io.djlmx.attention.AttentionConfig;
import io.djlmx.engine.MxModel;
import io.djlmx.engine.MxModelHook;

/**
 * Replaces DJL's attention blocks by MX attention in every model the MX engine loads, unless {@code
 * mx.attention=off}; with {@code mx.attention=fp8} their P·V runs in FP8 E4M3. Registered through
 * {@code META-INF/services/io.djlmx.engine.MxModelHook}.
 */
public final class MxAttentionModelHook implements MxModelHook {

  /** Creates the hook (called by {@link java.util.ServiceLoader}). */
  public MxAttentionModelHook() {}

  /** {@inheritDoc} */
  @Override
  public void onLoad(MxModel model) {
    Block block = model.getBlock();
    if (block == null
        || !model.getConfig().isAttentionEnabled()
        || AttentionBlockReplacer.countReplaceable(block) == 0) {
      return;
    }
    AttentionConfig config =
        AttentionConfig.defaults().toBuilder()
            .optPvFp8(model.getConfig().isAttentionPvFp8())
            .build();
    Block root = AttentionBlockReplacer.replace(block, config);
    if (root != block) {
      model.setBlock(root);
    }
  }
}
