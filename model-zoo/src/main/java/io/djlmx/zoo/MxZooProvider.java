package io.djlmx.zoo;

import ai.djl.repository.zoo.ModelZoo;
import ai.djl.repository.zoo.ZooProvider;

/** Registers the djl-mx model zoo with DJL (through {@code META-INF/services}). */
public final class MxZooProvider implements ZooProvider {

  /** Creates the provider. */
  public MxZooProvider() {}

  /** {@inheritDoc} */
  @Override
  public ModelZoo getModelZoo() {
    return new MxModelZoo();
  }
}
