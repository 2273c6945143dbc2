package io.djlmx.examples;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.ByteArrayInputStream;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.util.List;
import org.junit.jupiter.api.Test;

/** The bundled corpus and the brute-force index. */
class CorpusTest {

  @Test
  void bundledCorpusHoldsAThousandDefinitions() throws IOException {
    Corpus c = Corpus.wordNet();
    assertEquals(1000, c.size());
    assertTrue(
        c.entries().stream().anyMatch(e -> e.title().equals("teacher")), "no 'teacher' entry");
    assertEquals(10, c.head(10).size());
  }

  @Test
  void malformedLinesNameTheLine() {
    byte[] bad = "# header\nword\tdefinition\nno tab here\n".getBytes(StandardCharsets.UTF_8);
    IOException e =
        assertThrows(IOException.class, () -> Corpus.read("test", new ByteArrayInputStream(bad)));
    assertTrue(e.getMessage().contains("line 3"), e.getMessage());
  }

  @Test
  void indexRanksByCosineAndSkips() {
    float[][] v = {{1, 0}, {0.8f, 0.6f}, {0, 1}, {-1, 0}};
    SemanticIndex index = new SemanticIndex(v);
    List<SemanticIndex.Hit> hits = index.search(new float[] {1, 0.1f}, 2);
    assertEquals(0, hits.get(0).index());
    assertEquals(1, hits.get(1).index());
    assertEquals(1, index.search(v[0], 1, 0).get(0).index());
    assertThrows(IllegalArgumentException.class, () -> index.search(new float[3], 1));
  }
}
