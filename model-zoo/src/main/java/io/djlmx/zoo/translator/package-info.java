/** Translators from sentences to normalized sentence embeddings, and similarity helpers. */
package io.djlmx.zoo.translator;
