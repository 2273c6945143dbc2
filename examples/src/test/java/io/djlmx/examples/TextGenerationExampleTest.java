package io.djlmx.examples;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.charset.StandardCharsets;
import java.util.List;
import org.junit.jupiter.api.Test;

/** Generates with tiny-lm greedily and sampled, within the token limit, reproducibly. */
class TextGenerationExampleTest {

  @Test
  void generatesWithinTheLimitAndSamplingRepeatsWithItsSeed() throws Exception {
    List<String> prompts = List.of("A computer is");
    String greedy = TextGenerationExample.generate(prompts, false, 24).get(0);
    List<String> s1 = TextGenerationExample.generate(prompts, true, 24);
    List<String> s2 = TextGenerationExample.generate(prompts, true, 24);
    assertEquals(s1, s2, "seeded sampling repeats");
    for (String s : List.of(greedy, s1.get(0))) {
      assertTrue(s.getBytes(StandardCharsets.UTF_8).length <= 24 || s.contains("\uFFFD"), s);
      assertFalse(s.contains("\n\n"), "the stop string cuts the text: " + s);
    }
  }
}
