package io.djlmx.examples;

import java.nio.file.Path;

/** The zoo checkpoint cache shared by the example tests (converted once per build directory). */
final class TestCache {

  private TestCache() {}

  static Path dir() {
    return Path.of("target", "mx-zoo-cache").toAbsolutePath();
  }
}
