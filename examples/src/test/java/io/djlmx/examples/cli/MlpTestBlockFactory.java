package io.djlmx.examples.cli;

import ai.djl.Model;
import ai.djl.nn.Activation;
import ai.djl.nn.Block;
import ai.djl.nn.BlockFactory;
import ai.djl.nn.SequentialBlock;
import ai.djl.nn.core.Linear;
import java.nio.file.Path;
import java.util.Map;

/**
 * The block factory {@code mx convert --params} is given in the tests: an MLP {@code [*, 40] -> 64
 * -> hidden -> 10}, {@code hidden} from the argument {@code hidden} (default 48).
 */
public final class MlpTestBlockFactory implements BlockFactory {

  private static final long serialVersionUID = 1L;

  /** {@inheritDoc} */
  @Override
  public Block newBlock(Model model, Path modelPath, Map<String, ?> arguments) {
    Object hidden = arguments.get("hidden");
    return new SequentialBlock()
        .add(Linear.builder().setUnits(64).build())
        .add(Activation::relu)
        .add(
            Linear.builder()
                .setUnits(hidden == null ? 48 : Long.parseLong(hidden.toString()))
                .build())
        .add(Activation::relu)
        .add(Linear.builder().setUnits(10).build());
  }
}
