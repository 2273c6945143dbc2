package io.djlmx.checkpoint;

import ai.djl.Model;
import ai.djl.nn.Block;
import ai.djl.nn.BlockFactory;
import ai.djl.util.ClassLoaderUtils;
import java.io.IOException;
import java.nio.file.Path;
import java.util.Map;

/**
 * Builds a block from a DJL {@link BlockFactory} class name, found the way DJL serving finds it: on
 * the class path, in the model directory's {@code classes/} folder, or in a jar in the model
 * directory.
 */
public final class BlockFactories {

  private BlockFactories() {}

  /**
   * Creates the block of {@code model} with the named factory.
   *
   * @param className the factory's fully qualified class name
   * @param model the model the block is for
   * @param modelDir the model directory (searched for {@code classes/} and jars)
   * @param arguments the factory's arguments
   * @return the uninitialized block
   * @throws IllegalArgumentException when the class is missing, is not a {@code BlockFactory}, or
   *     returns no block
   * @throws IOException when the factory fails to read its files
   */
  public static Block newBlock(
      String className, Model model, Path modelDir, Map<String, ?> arguments) throws IOException {
    if (className == null || className.isBlank()) {
      throw new IllegalArgumentException(
          "No block factory named: a .params file holds parameters, not the block that uses them;"
              + " name an ai.djl.nn.BlockFactory class");
    }
    BlockFactory factory =
        ClassLoaderUtils.findImplementation(modelDir, BlockFactory.class, className);
    if (factory == null) {
      throw new IllegalArgumentException(
          "Block factory "
              + className
              + " not found or not usable: it must be a public ai.djl.nn.BlockFactory with a"
              + " public no-argument constructor, on the class path, in "
              + modelDir.resolve("classes")
              + " or in a jar in "
              + modelDir);
    }
    Block block = factory.newBlock(model, modelDir, arguments);
    if (block == null) {
      throw new IllegalArgumentException("Block factory " + className + " returned no block");
    }
    return block;
  }
}
