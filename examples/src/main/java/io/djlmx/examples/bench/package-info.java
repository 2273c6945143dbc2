/** Benchmark and measurement programs (warm-up, medians) for the MX kernels. */
package io.djlmx.examples.bench;
