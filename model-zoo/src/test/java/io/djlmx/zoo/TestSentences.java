package io.djlmx.zoo;

import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStream;
import java.io.InputStreamReader;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;

/** The committed sample of real English sentences (see scripts/make-sentences.sh). */
final class TestSentences {

  private TestSentences() {}

  static List<String> sample(int n) {
    List<String> all = all();
    if (all.size() < n) {
      throw new IllegalStateException("only " + all.size() + " test sentences");
    }
    return all.subList(0, n);
  }

  static List<String> all() {
    try (InputStream in = TestSentences.class.getResourceAsStream("/sentences-en.txt");
        BufferedReader r = new BufferedReader(new InputStreamReader(in, StandardCharsets.UTF_8))) {
      List<String> out = new ArrayList<>();
      for (String line; (line = r.readLine()) != null; ) {
        if (!line.isBlank()) {
          out.add(line);
        }
      }
      return out;
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
  }
}
