package io.djlmx.engine;

/**
 * A step run on every {@link MxModel} after its block is loaded and before its weights are packed,
 * e.g. to replace DJL attention blocks by MX attention when {@link MxConfig#isAttentionEnabled()}.
 *
 * <p>Implementations are found with {@link java.util.ServiceLoader} ({@code
 * META-INF/services/io.djlmx.engine.MxModelHook}) or registered with {@link
 * MxModel#registerHook(MxModelHook)}.
 */
public interface MxModelHook {

  /**
   * Runs on a freshly loaded model.
   *
   * @param model the model; its block and {@link MxModel#getConfig()} are set
   */
  void onLoad(MxModel model);
}
