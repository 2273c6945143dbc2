package io.djlmx.zoo.lm;

import java.util.Properties;

/**
 * The shape of a {@link TinyLm}: vocabulary, context length, width, depth and heads.
 *
 * @param vocabSize number of token ids (256 bytes + end of text for {@link ByteTokenizer})
 * @param contextLength the most positions the model attends over (prompt + generated tokens)
 * @param width the model (embedding) width, a multiple of 32 (one MX block)
 * @param layers number of decoder layers
 * @param heads attention heads; {@code width / heads} is the head size
 * @param mlpWidth hidden width of each layer's MLP, a multiple of 32
 * @param layerNormEps epsilon of the layer normalizations
 */
public record TinyLmConfig(
    int vocabSize,
    int contextLength,
    int width,
    int layers,
    int heads,
    int mlpWidth,
    float layerNormEps) {

  /** The zoo model's shape: 257 tokens, context 128, width 192, 4 layers of 3 heads, MLP 768. */
  public static final TinyLmConfig DEFAULT =
      new TinyLmConfig(ByteTokenizer.VOCAB_SIZE, 128, 192, 4, 3, 768, 1e-5f);

  /**
   * Checks the shape.
   *
   * @throws IllegalArgumentException naming the first field out of range
   */
  public TinyLmConfig {
    positive("vocabSize", vocabSize);
    positive("contextLength", contextLength);
    positive("layers", layers);
    positive("heads", heads);
    if (width <= 0 || width % 32 != 0) {
      throw new IllegalArgumentException("width must be a positive multiple of 32, got " + width);
    }
    if (mlpWidth <= 0 || mlpWidth % 32 != 0) {
      throw new IllegalArgumentException(
          "mlpWidth must be a positive multiple of 32, got " + mlpWidth);
    }
    if (width % heads != 0) {
      throw new IllegalArgumentException("width " + width + " is not divisible by heads " + heads);
    }
    if (!(layerNormEps > 0)) {
      throw new IllegalArgumentException("layerNormEps must be positive, got " + layerNormEps);
    }
  }

  private static void positive(String name, int value) {
    if (value <= 0) {
      throw new IllegalArgumentException(name + " must be positive, got " + value);
    }
  }

  /**
   * Returns the size of one attention head.
   *
   * @return {@code width / heads}
   */
  public int headSize() {
    return width / heads;
  }

  /**
   * Returns the number of parameters of a model of this shape.
   *
   * @return the parameter count
   */
  public long parameterCount() {
    long w = width;
    long perLayer = 4 * w + (w * 3 * w + 3 * w) + (w * w + w) + (w * mlpWidth + mlpWidth);
    perLayer += mlpWidth * w + w;
    return (long) vocabSize * w
        + (long) contextLength * w
        + layers * perLayer
        + 2 * w
        + w * vocabSize;
  }

  /**
   * Writes the shape into properties under {@code model.*} keys.
   *
   * @param p the properties written
   */
  public void writeTo(Properties p) {
    p.setProperty("model.vocabSize", String.valueOf(vocabSize));
    p.setProperty("model.contextLength", String.valueOf(contextLength));
    p.setProperty("model.width", String.valueOf(width));
    p.setProperty("model.layers", String.valueOf(layers));
    p.setProperty("model.heads", String.valueOf(heads));
    p.setProperty("model.mlpWidth", String.valueOf(mlpWidth));
    p.setProperty("model.layerNormEps", String.valueOf(layerNormEps));
  }

  /**
   * Reads a shape written by {@link #writeTo}.
   *
   * @param p the properties
   * @param source names the properties in error messages
   * @return the shape
   * @throws IllegalArgumentException when a key is missing or malformed
   */
  public static TinyLmConfig readFrom(Properties p, String source) {
    return new TinyLmConfig(
        intValue(p, "model.vocabSize", source),
        intValue(p, "model.contextLength", source),
        intValue(p, "model.width", source),
        intValue(p, "model.layers", source),
        intValue(p, "model.heads", source),
        intValue(p, "model.mlpWidth", source),
        Float.parseFloat(value(p, "model.layerNormEps", source)));
  }

  private static int intValue(Properties p, String key, String source) {
    String v = value(p, key, source);
    try {
      return Integer.parseInt(v);
    } catch (NumberFormatException e) {
      throw new IllegalArgumentException(
          "Malformed " + key + " '" + v + "' in " + source + ": not an integer", e);
    }
  }

  private static String value(Properties p, String key, String source) {
    String v = p.getProperty(key);
    if (v == null) {
      throw new IllegalArgumentException("Missing " + key + " in " + source);
    }
    return v.trim();
  }
}
