package io.djlmx.examples;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.djlmx.zoo.translator.SentenceSimilarity;
import java.util.List;
import org.junit.jupiter.api.Test;

/** The Translator pipelines: semantic search, and batches from several threads. */
class PipelineExamplesTest {

  @Test
  void semanticSearchFindsTheDefinedWord() throws Exception {
    try (SemanticSearchExample search =
        new SemanticSearchExample(Corpus.wordNet().head(150), TestCache.dir())) {
      List<SemanticSearchExample.Answer> answers = search.search("a motor vehicle", 3);
      assertEquals(3, answers.size());
      assertTrue(
          answers.stream()
              .anyMatch(
                  a -> a.entry().title().equals("car") || a.entry().title().equals("automobile")),
          answers.toString());
      assertTrue(answers.get(0).score() >= answers.get(2).score());
    }
  }

  @Test
  void predictorPoolMatchesOneThread() throws Exception {
    List<String> texts = Corpus.wordNet().head(48).texts();
    try (PredictorPoolExample pool = new PredictorPoolExample(3, TestCache.dir())) {
      float[][] one = pool.embed(texts, 1, 48);
      float[][] many = pool.embed(texts, 3, 8);
      assertEquals(texts.size(), many.length);
      for (int i = 0; i < texts.size(); i++) {
        double c = SentenceSimilarity.cosine(one[i], many[i]);
        assertTrue(c > 0.9999, "sentence " + i + " cosine " + c);
      }
    }
  }
}
