package io.djlmx.attention.djl;

import ai.djl.nn.Block;
import io.djlmx.attention.AttentionConfig;
import io.djlmx.engine.MxModel;
import io.djlmx.engine.MxModelHook;

/**
 * Replaces DJL's attention blocks by MX attention in every model the MX engine loads, unless {@code
 * mx.attention=off}. Registered through {@code META-INF/services/io.djlmx.engine.MxModelHook}.
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
    Block root = AttentionBlockReplacer.replace(block, AttentionConfig.defaults());
    if (root != block) {
      model.setBlock(root);
    }
  }
}
