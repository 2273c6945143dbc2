package io.djlmx.zoo.translator;

/** How token states become one sentence vector. */
public enum Pooling {
  /** The mean of the states of real (unmasked) tokens: sentence-transformers' default. */
  MEAN,
  /** The state of the first token ({@code [CLS]}): what bge models use. */
  CLS
}
