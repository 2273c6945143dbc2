package io.djlmx.attention.djl;

import ai.djl.nn.AbstractBlock;
import ai.djl.nn.Block;
import ai.djl.nn.BlockList;
import ai.djl.nn.transformer.ScaledDotProductAttentionBlock;
import ai.djl.nn.transformer.TransformerEncoderBlock;
import io.djlmx.attention.AttentionConfig;
import java.lang.reflect.Field;
import java.lang.reflect.Modifier;
import java.util.ArrayList;
import java.util.List;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Swaps DJL's attention for MX attention throughout a block tree, keeping every parameter.
 *
 * <p>Walks {@link Block#getChildren()} from the root. A {@link TransformerEncoderBlock} (exactly
 * that class) becomes a {@link MxTransformerEncoderBlock}; a {@link ScaledDotProductAttentionBlock}
 * elsewhere becomes a {@link MxScaledDotProductAttentionBlock}. Both adopt the original's child
 * blocks, so loaded or initialized parameters carry over, and saving still writes DJL's format.
 *
 * <p>How: the parent's child list ({@code AbstractBlock.children}) is edited in place under the
 * same key, and every field of the parent that holds the old block (directly, or in a {@code
 * java.util.List}) is pointed at the new one, by reflection. When a field's declared type cannot
 * hold the replacement (e.g. a field typed {@code ScaledDotProductAttentionBlock}, a final class)
 * the block is left alone and a warning says so; this is why encoders are replaced as a whole.
 * Parents that do not extend {@link AbstractBlock} are searched but not edited.
 */
public final class AttentionBlockReplacer {

  private static final Logger logger = LoggerFactory.getLogger(AttentionBlockReplacer.class);

  private AttentionBlockReplacer() {}

  /**
   * Replaces DJL attention blocks under {@code root} with the default MX configuration.
   *
   * @param root the block tree (e.g. {@code model.getBlock()})
   * @return the root to use: {@code root} itself, or its replacement when the root is one of the
   *     replaced block types (then call {@code model.setBlock(result)})
   */
  public static Block replace(Block root) {
    return replace(root, AttentionConfig.defaults());
  }

  /**
   * Replaces DJL attention blocks under {@code root}.
   *
   * @param root the block tree
   * @param config the MX attention configuration
   * @return the root to use (see {@link #replace(Block)})
   */
  public static Block replace(Block root, AttentionConfig config) {
    Block swapped = replacement(root, config);
    int count;
    Block result;
    if (swapped != null) {
      result = swapped;
      count = 1;
    } else {
      result = root;
      count = walk(root, config);
    }
    logger.info("MX attention: replaced {} DJL attention block(s) ({})", count, config);
    return result;
  }

  /**
   * Counts the blocks {@link #replace} would replace (DJL encoders and attention blocks).
   *
   * @param root the block tree
   * @return the number of replaceable blocks
   */
  public static int countReplaceable(Block root) {
    if (replaceable(root)) {
      return 1;
    }
    int n = 0;
    for (Block child : root.getChildren().values()) {
      n += countReplaceable(child);
    }
    return n;
  }

  private static boolean replaceable(Block b) {
    return b.getClass() == TransformerEncoderBlock.class
        || b instanceof ScaledDotProductAttentionBlock;
  }

  private static Block replacement(Block b, AttentionConfig config) {
    if (b.getClass() == TransformerEncoderBlock.class) {
      return MxTransformerEncoderBlock.from((TransformerEncoderBlock) b, config);
    }
    if (b instanceof ScaledDotProductAttentionBlock djl) {
      return MxScaledDotProductAttentionBlock.from(djl, config);
    }
    return null;
  }

  private static int walk(Block parent, AttentionConfig config) {
    int count = 0;
    BlockList list = parent instanceof AbstractBlock ab ? childList(ab) : null;
    if (list == null) {
      for (Block child : parent.getChildren().values()) {
        count += walk(child, config);
      }
      return count;
    }
    for (int i = 0; i < list.size(); i++) {
      Block child = list.valueAt(i);
      if (!replaceable(child)) {
        count += walk(child, config);
        continue;
      }
      Block repl = replacement(child, config);
      if (relink(parent, child, repl)) {
        String key = list.keyAt(i);
        list.remove(i);
        list.add(i, key, repl);
        count++;
      } else {
        logger.warn(
            "MX attention: cannot replace {} inside {}: a field of the parent cannot hold {}",
            child.getClass().getSimpleName(),
            parent.getClass().getName(),
            repl.getClass().getSimpleName());
      }
    }
    return count;
  }

  private static BlockList childList(AbstractBlock block) {
    try {
      Field f = AbstractBlock.class.getDeclaredField("children");
      f.setAccessible(true);
      return (BlockList) f.get(block);
    } catch (ReflectiveOperationException | RuntimeException e) {
      logger.warn("MX attention: cannot edit children of {}", block.getClass().getName(), e);
      return null;
    }
  }

  /**
   * Points the parent's fields holding {@code old} at {@code repl}; all or nothing.
   *
   * @return false when some field cannot hold the replacement (nothing changed then)
   */
  @SuppressWarnings("unchecked")
  private static boolean relink(Block parent, Block old, Block repl) {
    List<Runnable> edits = new ArrayList<>();
    for (Class<?> c = parent.getClass();
        c != null && c != AbstractBlock.class && c != Object.class;
        c = c.getSuperclass()) {
      for (Field f : c.getDeclaredFields()) {
        if (Modifier.isStatic(f.getModifiers()) || f.getType().isPrimitive()) {
          continue;
        }
        Object value;
        try {
          f.setAccessible(true);
          value = f.get(parent);
        } catch (ReflectiveOperationException | RuntimeException e) {
          return false;
        }
        if (value == old) {
          if (!f.getType().isInstance(repl) || Modifier.isFinal(f.getModifiers())) {
            return false;
          }
          edits.add(
              () -> {
                try {
                  f.set(parent, repl);
                } catch (IllegalAccessException e) {
                  throw new IllegalStateException(e);
                }
              });
        } else if (value instanceof List<?> list) {
          for (int i = 0; i < list.size(); i++) {
            if (list.get(i) == old) {
              int index = i;
              edits.add(() -> ((List<Object>) list).set(index, repl));
            }
          }
        }
      }
    }
    try {
      edits.forEach(Runnable::run);
    } catch (UnsupportedOperationException e) {
      return false;
    }
    return true;
  }
}
