package io.djlmx.zoo;

import io.djlmx.zoo.translator.Pooling;
import java.io.IOException;
import java.io.InputStream;
import java.util.List;

/**
 * One pretrained sentence encoder of the zoo: where its ONNX weights and tokenizer live on the
 * class path (the LangChain4j embedding jars on Maven Central), and how it pools.
 *
 * @param artifactId the zoo artifact id
 * @param onnxResource the class-path resource of the FP32 ONNX model
 * @param tokenizerResource the class-path resource of the Hugging Face {@code tokenizer.json}
 * @param pooling how token states become a sentence vector
 * @param maxTokens the model's input limit in tokens
 * @param description one line about the model
 */
public record SentenceEncoderSpec(
    String artifactId,
    String onnxResource,
    String tokenizerResource,
    Pooling pooling,
    int maxTokens,
    String description) {

  /** sentence-transformers/all-MiniLM-L6-v2: 6 layers, hidden 384, mean pooling. */
  public static final SentenceEncoderSpec ALL_MINILM_L6_V2 =
      new SentenceEncoderSpec(
          "all-MiniLM-L6-v2",
          "all-minilm-l6-v2.onnx",
          "all-minilm-l6-v2-tokenizer.json",
          Pooling.MEAN,
          256,
          "sentence-transformers all-MiniLM-L6-v2 (22.7M parameters, 6 layers, 384 wide)");

  /** BAAI/bge-small-en-v1.5: 12 layers, hidden 384, CLS pooling. */
  public static final SentenceEncoderSpec BGE_SMALL_EN_V15 =
      new SentenceEncoderSpec(
          "bge-small-en-v1.5",
          "bge-small-en-v1.5.onnx",
          "bge-small-en-v1.5-tokenizer.json",
          Pooling.CLS,
          512,
          "BAAI bge-small-en-v1.5 (33M parameters, 12 layers, 384 wide)");

  /** intfloat/e5-small-v2: 12 layers, hidden 384, mean pooling. */
  public static final SentenceEncoderSpec E5_SMALL_V2 =
      new SentenceEncoderSpec(
          "e5-small-v2",
          "e5-small-v2.onnx",
          "e5-small-v2-tokenizer.json",
          Pooling.MEAN,
          512,
          "intfloat e5-small-v2 (33M parameters, 12 layers, 384 wide)");

  /**
   * Returns every encoder of the zoo.
   *
   * @return the specs
   */
  public static List<SentenceEncoderSpec> all() {
    return List.of(ALL_MINILM_L6_V2, BGE_SMALL_EN_V15, E5_SMALL_V2);
  }

  /**
   * Finds an encoder by artifact id.
   *
   * @param artifactId the id, e.g. {@code all-MiniLM-L6-v2}
   * @return the spec
   * @throws IllegalArgumentException listing the known ids when there is no such encoder
   */
  public static SentenceEncoderSpec of(String artifactId) {
    for (SentenceEncoderSpec s : all()) {
      if (s.artifactId.equalsIgnoreCase(artifactId)) {
        return s;
      }
    }
    throw new IllegalArgumentException(
        "Unknown sentence encoder '"
            + artifactId
            + "'; known: "
            + all().stream().map(SentenceEncoderSpec::artifactId).toList());
  }

  /**
   * Opens the ONNX model on the class path.
   *
   * @return a stream the caller closes
   * @throws IOException naming the resource and the Maven artifact when it is absent
   */
  public InputStream openOnnx() throws IOException {
    return open(onnxResource);
  }

  /**
   * Opens the tokenizer on the class path.
   *
   * @return a stream the caller closes
   * @throws IOException naming the resource and the Maven artifact when it is absent
   */
  public InputStream openTokenizer() throws IOException {
    return open(tokenizerResource);
  }

  private InputStream open(String resource) throws IOException {
    InputStream in = SentenceEncoderSpec.class.getClassLoader().getResourceAsStream(resource);
    if (in == null) {
      throw new IOException(
          "Model file '"
              + resource
              + "' of "
              + artifactId
              + " is not on the class path: add the LangChain4j embeddings jar that carries it"
              + " (see docs/zoo.md)");
    }
    return in;
  }
}
