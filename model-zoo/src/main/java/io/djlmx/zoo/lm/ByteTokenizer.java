package io.djlmx.zoo.lm;

import java.nio.ByteBuffer;
import java.nio.charset.CharacterCodingException;
import java.nio.charset.CodingErrorAction;
import java.nio.charset.StandardCharsets;
import java.util.Properties;

/**
 * The byte-level tokenizer of {@code tiny-lm}: each UTF-8 byte of the text is one token (ids 0 to
 * 255) and id {@value #EOS} ends a text. Every string encodes, every id sequence decodes (an
 * incomplete or invalid UTF-8 sequence decodes to U+FFFD), so no input is out of vocabulary.
 */
public final class ByteTokenizer {

  /** The end-of-text token id, also the separator between training documents. */
  public static final int EOS = 256;

  /** Number of token ids: 256 byte values and {@link #EOS}. */
  public static final int VOCAB_SIZE = 257;

  /** The tokenizer's name in the artifact's properties ({@code tokenizer.type}). */
  public static final String TYPE = "utf8-bytes";

  /** Creates the tokenizer. */
  public ByteTokenizer() {}

  /**
   * Encodes text as its UTF-8 bytes.
   *
   * @param text the text
   * @return token ids, each 0..255
   */
  public int[] encode(String text) {
    byte[] bytes = text.getBytes(StandardCharsets.UTF_8);
    int[] ids = new int[bytes.length];
    for (int i = 0; i < bytes.length; i++) {
      ids[i] = bytes[i] & 0xFF;
    }
    return ids;
  }

  /**
   * Decodes token ids, skipping {@link #EOS}; invalid UTF-8 becomes U+FFFD.
   *
   * @param ids token ids
   * @param from first index decoded
   * @param to end index (exclusive)
   * @return the text
   * @throws IllegalArgumentException on an id outside the vocabulary
   */
  public String decode(int[] ids, int from, int to) {
    byte[] bytes = new byte[to - from];
    int n = 0;
    for (int i = from; i < to; i++) {
      int id = ids[i];
      if (id == EOS) {
        continue;
      }
      if (id < 0 || id > 255) {
        throw new IllegalArgumentException(
            "Token id " + id + " at " + i + " is outside the vocabulary 0.." + EOS);
      }
      bytes[n++] = (byte) id;
    }
    try {
      return StandardCharsets.UTF_8
          .newDecoder()
          .onMalformedInput(CodingErrorAction.REPLACE)
          .onUnmappableCharacter(CodingErrorAction.REPLACE)
          .decode(ByteBuffer.wrap(bytes, 0, n))
          .toString();
    } catch (CharacterCodingException e) {
      throw new IllegalStateException("UTF-8 decoding with replacement failed", e);
    }
  }

  /**
   * Decodes every token id.
   *
   * @param ids token ids
   * @return the text
   */
  public String decode(int[] ids) {
    return decode(ids, 0, ids.length);
  }

  /**
   * Writes the tokenizer's description ({@code tokenizer.*} keys).
   *
   * @param p the properties written
   */
  public void writeTo(Properties p) {
    p.setProperty("tokenizer.type", TYPE);
    p.setProperty("tokenizer.eos", String.valueOf(EOS));
  }

  /**
   * Returns the tokenizer an artifact's properties describe.
   *
   * @param p the properties
   * @param source names the properties in error messages
   * @return the tokenizer
   * @throws IllegalArgumentException when the properties describe another tokenizer
   */
  public static ByteTokenizer readFrom(Properties p, String source) {
    String type = p.getProperty("tokenizer.type");
    String eos = p.getProperty("tokenizer.eos");
    if (!TYPE.equals(type) || !String.valueOf(EOS).equals(eos)) {
      throw new IllegalArgumentException(
          source
              + " describes tokenizer '"
              + type
              + "' with end of text "
              + eos
              + "; this reader knows "
              + TYPE
              + " with end of text "
              + EOS);
    }
    return new ByteTokenizer();
  }
}
