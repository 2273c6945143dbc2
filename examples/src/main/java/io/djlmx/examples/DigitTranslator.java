package io.djlmx.examples;

import ai.djl.modality.Classifications;
import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDList;
import ai.djl.translate.Batchifier;
import ai.djl.translate.Translator;
import ai.djl.translate.TranslatorContext;
import java.util.List;

/** Turns 64 pixel values into the MLP's input and its logits into digit probabilities. */
public final class DigitTranslator implements Translator<float[], Classifications> {

  private static final List<String> DIGITS =
      List.of("0", "1", "2", "3", "4", "5", "6", "7", "8", "9");

  /** {@inheritDoc} */
  @Override
  public NDList processInput(TranslatorContext ctx, float[] pixels) {
    if (pixels.length != Digits.PIXELS) {
      throw new IllegalArgumentException(
          "A digit image has " + Digits.PIXELS + " pixels, got " + pixels.length);
    }
    return new NDList(ctx.getNDManager().create(pixels));
  }

  /** {@inheritDoc} */
  @Override
  public Classifications processOutput(TranslatorContext ctx, NDList list) {
    NDArray probabilities = list.singletonOrThrow().softmax(-1);
    return new Classifications(DIGITS, probabilities);
  }

  /** {@inheritDoc} */
  @Override
  public Batchifier getBatchifier() {
    return Batchifier.STACK;
  }
}
