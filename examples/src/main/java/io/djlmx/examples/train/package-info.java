/** Reproducible trainers of the zoo's own models and their per-format accuracy tables. */
package io.djlmx.examples.train;
