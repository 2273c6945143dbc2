/** Benchmarks that compare the MX kernels with DJL's PyTorch engine side by side in one run. */
package io.djlmx.examples.bench;
