package io.djlmx.engine;

import ai.djl.Model;
import ai.djl.nn.Block;
import ai.djl.nn.BlockFactory;
import java.nio.file.Path;
import java.util.Map;

/** Builds the test MLP ({@link ModelFixtures#mlp()}): the block factory a checkpoint names. */
public final class MlpBlockFactory implements BlockFactory {

  private static final long serialVersionUID = 1L;

  /** {@inheritDoc} */
  @Override
  public Block newBlock(Model model, Path modelPath, Map<String, ?> arguments) {
    return ModelFixtures.mlp();
  }
}
