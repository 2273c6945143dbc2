package io.djlmx.zoo.lm;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

import java.util.List;
import java.util.Properties;
import org.junit.jupiter.api.Test;

/** The byte-level tokenizer and the fortune corpus parser. */
class ByteTokenizerTest {

  private final ByteTokenizer tokenizer = new ByteTokenizer();

  @Test
  void roundTripsUtf8() {
    String s = "Naïve café — 42 % \n\t€";
    int[] ids = tokenizer.encode(s);
    assertEquals(s.getBytes(java.nio.charset.StandardCharsets.UTF_8).length, ids.length);
    assertEquals(s, tokenizer.decode(ids));
  }

  @Test
  void skipsEndOfTextAndReplacesBrokenUtf8() {
    assertEquals("ab", tokenizer.decode(new int[] {'a', ByteTokenizer.EOS, 'b'}));
    // the first byte of a two-byte sequence alone
    assertEquals("a\uFFFD", tokenizer.decode(new int[] {'a', 0xC3}));
    assertThrows(IllegalArgumentException.class, () -> tokenizer.decode(new int[] {257}));
    assertThrows(IllegalArgumentException.class, () -> tokenizer.decode(new int[] {-1}));
  }

  @Test
  void describesItselfAndRefusesOtherTokenizers() {
    Properties p = new Properties();
    tokenizer.writeTo(p);
    ByteTokenizer.readFrom(p, "test");
    p.setProperty("tokenizer.type", "bpe");
    IllegalArgumentException e =
        assertThrows(IllegalArgumentException.class, () -> ByteTokenizer.readFrom(p, "test"));
    assertEquals(true, e.getMessage().contains("bpe"), e.getMessage());
  }

  @Test
  void configRoundTripsAndChecksFields() {
    Properties p = new Properties();
    TinyLmConfig.DEFAULT.writeTo(p);
    assertEquals(TinyLmConfig.DEFAULT, TinyLmConfig.readFrom(p, "test"));
    p.remove("model.width");
    assertThrows(IllegalArgumentException.class, () -> TinyLmConfig.readFrom(p, "test"));
    assertThrows(
        IllegalArgumentException.class, () -> new TinyLmConfig(257, 128, 100, 4, 3, 768, 1e-5f));
    assertThrows(
        IllegalArgumentException.class, () -> new TinyLmConfig(257, 128, 192, 4, 5, 768, 1e-5f));
  }

  @Test
  void parsesFortuneFilesIntoDocuments() {
    List<String> docs = FortuneCorpus.parse("One.\n%\n\n%\n  Two\nlines.\n%\nThree.");
    assertEquals(List.of("One.", "Two\nlines.", "Three."), docs);
    int[] stream = FortuneCorpus.tokens(List.of("ab", "c"));
    assertArrayEquals(new int[] {'a', 'b', ByteTokenizer.EOS, 'c', ByteTokenizer.EOS}, stream);
  }
}
