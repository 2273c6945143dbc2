package io.djlmx.zoo;

import ai.djl.repository.zoo.ModelZoo;
import java.util.Set;

/**
 * The djl-mx model zoo (group {@code io.djlmx}): pretrained sentence encoders, the Fashion-MNIST
 * CNN and the small language model {@code tiny-lm}, served in MX.
 */
public final class MxModelZoo extends ModelZoo {

  /** The zoo's group id. */
  public static final String GROUP_ID = "io.djlmx";

  /**
   * Creates the zoo with every encoder of {@link SentenceEncoderSpec#all()}, the CNN and the LM.
   */
  public MxModelZoo() {
    for (SentenceEncoderSpec spec : SentenceEncoderSpec.all()) {
      addModel(new SentenceEncoderLoader(this, spec));
    }
    addModel(new FashionMnistCnnLoader(this));
    addModel(new TinyLmLoader(this));
  }

  /** {@inheritDoc} */
  @Override
  public String getGroupId() {
    return GROUP_ID;
  }

  /** {@inheritDoc} */
  @Override
  public Set<String> getSupportedEngines() {
    return Set.of("MX", "PyTorch");
  }
}
