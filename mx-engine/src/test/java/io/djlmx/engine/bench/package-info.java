/**
 * Benchmark harnesses for the MX engine, run by hand (not by surefire); see docs/bench/engine.md.
 */
package io.djlmx.engine.bench;
