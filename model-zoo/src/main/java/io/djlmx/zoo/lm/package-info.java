/**
 * The zoo's small generative language model ({@code tiny-lm}): a byte-level, decoder-only
 * (GPT-style) transformer whose linear layers run through the engine's {@code linear} (MX kernels
 * under the MX engine) and whose causal attention runs through MX attention, with a text-generation
 * translator that keeps a key/value cache.
 */
package io.djlmx.zoo.lm;
