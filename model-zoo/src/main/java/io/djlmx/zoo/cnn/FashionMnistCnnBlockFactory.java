package io.djlmx.zoo.cnn;

import ai.djl.Model;
import ai.djl.nn.Block;
import ai.djl.nn.BlockFactory;
import java.nio.file.Path;
import java.util.Map;

/**
 * Builds the {@code fashion-mnist-cnn} block ({@link FashionMnistCnn#newBlock()}) for DJL's loaders
 * and for {@code mx convert --params DIR --block-factory
 * io.djlmx.zoo.cnn.FashionMnistCnnBlockFactory}, which records this class in the checkpoint so that
 * the MX engine rebuilds the block at load.
 */
public final class FashionMnistCnnBlockFactory implements BlockFactory {

  private static final long serialVersionUID = 1L;

  /** {@inheritDoc} */
  @Override
  public Block newBlock(Model model, Path modelPath, Map<String, ?> arguments) {
    return FashionMnistCnn.newBlock();
  }
}
