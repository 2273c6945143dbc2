/**
 * Helpers shared by the tests of several modules (published in mx-engine's test jar), such as
 * {@link io.djlmx.testing.NativeHeap} for native-memory leak checks.
 */
package io.djlmx.testing;
