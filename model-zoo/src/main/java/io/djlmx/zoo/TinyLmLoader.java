package io.djlmx.zoo;

import ai.djl.Application;
import ai.djl.MalformedModelException;
import ai.djl.Model;
import ai.djl.repository.zoo.Criteria;
import ai.djl.repository.zoo.ModelNotFoundException;
import ai.djl.repository.zoo.ZooModel;
import ai.djl.translate.Translator;
import io.djlmx.attention.AttentionConfig;
import io.djlmx.format.MxFormat;
import io.djlmx.zoo.bert.ActivationQuantizer;
import io.djlmx.zoo.emulation.MxActivationQuantizer;
import io.djlmx.zoo.emulation.MxWeightRounding;
import io.djlmx.zoo.lm.ByteTokenizer;
import io.djlmx.zoo.lm.CausalAttention;
import io.djlmx.zoo.lm.GenerationConfig;
import io.djlmx.zoo.lm.MxCausalAttention;
import io.djlmx.zoo.lm.ReferenceCausalAttention;
import io.djlmx.zoo.lm.TextGenerationTranslator;
import io.djlmx.zoo.lm.TextGenerator;
import io.djlmx.zoo.lm.TinyLm;
import io.djlmx.zoo.lm.TinyLmConfig;
import java.io.IOException;
import java.io.InputStream;
import java.nio.file.Path;
import java.util.HashMap;
import java.util.Map;
import java.util.Properties;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Loads the zoo's small language model ({@code io.djlmx:tiny-lm}, {@code String} → {@code String},
 * text generation) from the {@code .params} and {@code .properties} files on the class path.
 *
 * <p>Options ({@code Criteria.optOption}, else system property, else environment): {@code
 * mx.weights} (an MX format or {@code FP32}; default {@code MXFP6_E2M3}), {@code mx.activations}
 * ({@code none} or a format), {@code mx.attention} ({@code mx}, the default under the MX engine, or
 * {@code off}), {@code mx.zoo.cache}. Under the MX engine the {@code Linear} layers run on MX
 * kernels and attention on MX attention; under PyTorch the weights and activations are rounded to
 * the formats (an emulation) and attention is FP32. Generation settings are Criteria arguments
 * ({@link GenerationConfig#ARGUMENTS}: {@code maxNewTokens}, {@code sample}, {@code temperature},
 * {@code topK}, {@code seed}, {@code stop}, {@code ignoreEos}).
 */
public final class TinyLmLoader extends ClassPathModelLoader {

  /** The zoo artifact id, also the model name of the {@code .params} file. */
  public static final String ARTIFACT_ID = "tiny-lm";

  /** The class-path directory of the model's files. */
  public static final String RESOURCE_DIR = "io/djlmx/zoo/tiny-lm/";

  private static final String PARAMS = ARTIFACT_ID + "-0000.params";
  private static final String PROPERTIES = ARTIFACT_ID + ".properties";

  private static final Logger logger = LoggerFactory.getLogger(TinyLmLoader.class);

  TinyLmLoader(MxModelZoo zoo) {
    super(zoo, ARTIFACT_ID, Application.NLP.TEXT_GENERATION);
  }

  /**
   * Returns the artifact's properties: the model's shape ({@code model.*}), its tokenizer ({@code
   * tokenizer.*}) and the training record ({@code train.*}, {@code heldOut.*}).
   *
   * @return the properties
   * @throws IOException if the class-path file is missing
   */
  public static Properties artifactProperties() throws IOException {
    Properties p = new Properties();
    try (InputStream in =
        TinyLmLoader.class.getClassLoader().getResourceAsStream(RESOURCE_DIR + PROPERTIES)) {
      if (in == null) {
        throw new IOException("Missing class-path resource " + RESOURCE_DIR + PROPERTIES);
      }
      p.load(in);
    }
    return p;
  }

  /** {@inheritDoc} */
  @Override
  @SuppressWarnings("unchecked")
  public <I, O> ZooModel<I, O> loadModel(Criteria<I, O> criteria)
      throws IOException, ModelNotFoundException, MalformedModelException {
    if (criteria.getInputClass() != String.class || criteria.getOutputClass() != String.class) {
      throw new ModelNotFoundException(
          ARTIFACT_ID
              + " generates String -> String; not "
              + criteria.getInputClass().getSimpleName()
              + " -> "
              + criteria.getOutputClass().getSimpleName());
    }
    Properties props = artifactProperties();
    String source = "class-path " + RESOURCE_DIR + PROPERTIES;
    TinyLmConfig shape = TinyLmConfig.readFrom(props, source);
    ByteTokenizer tokenizer = ByteTokenizer.readFrom(props, source);
    GenerationConfig generation = GenerationConfig.fromArguments(criteria.getArguments());
    TextGenerator generator = new TextGenerator(shape, tokenizer, generation);

    Map<String, String> options = new HashMap<>();
    if (criteria.getOptions() != null) {
      options.putAll(criteria.getOptions());
    }
    MxFormat weights = SentenceEncoderLoader.weightsFormat(null, options);
    MxFormat activations = SentenceEncoderLoader.activationFormat(options);
    String engine = SentenceEncoderLoader.engineName(criteria.getEngine());
    boolean mxEngine = engine.equals("MX");
    String attentionOption = SentenceEncoderLoader.option(options, "mx.attention");
    if (attentionOption != null
        && !attentionOption.equalsIgnoreCase("mx")
        && !attentionOption.equalsIgnoreCase("off")
        && !attentionOption.equalsIgnoreCase("fp8")) {
      throw new IllegalArgumentException(
          "Invalid mx.attention '" + attentionOption + "': use mx, off or fp8");
    }
    boolean mxAttention = mxEngine && !"off".equalsIgnoreCase(attentionOption);
    AttentionConfig attention = SentenceEncoderLoader.attentionConfig(attentionOption);
    CausalAttention core =
        mxAttention ? new MxCausalAttention(attention) : new ReferenceCausalAttention();
    // the MX engine's linear quantizes activations itself; elsewhere they are rounded on the way in
    ActivationQuantizer aq =
        activations == null || mxEngine
            ? ActivationQuantizer.NONE
            : new MxActivationQuantizer(activations);
    TinyLm block = new TinyLm(shape, core, aq);
    Path dir = extractResource(SentenceEncoderLoader.cacheDir(options), RESOURCE_DIR, PARAMS);
    Model model = Model.newInstance(ARTIFACT_ID, criteria.getDevice(), engine);
    try {
      model.setBlock(block);
      if (mxEngine) {
        options.putIfAbsent("mx.weights", weights == null ? "FP32" : weights.name());
      }
      model.load(dir, ARTIFACT_ID, options);
      if (!mxEngine && weights != null) {
        MxWeightRounding.roundLinearWeights(block, weights);
      }
      model.setProperty("mx.weights", weights == null ? "FP32" : weights.name());
      model.setProperty("mx.activations", activations == null ? "none" : activations.name());
      model.setProperty("mx.attention", !mxAttention ? "off" : attention.pvFp8() ? "fp8" : "mx");
    } catch (IOException | MalformedModelException | RuntimeException e) {
      model.close();
      throw e;
    }
    logger.info(
        "Loaded {} ({} weights, {} activations, {} attention, {}) on engine {}",
        ARTIFACT_ID,
        weights == null ? "FP32" : weights,
        activations == null ? "FP32" : activations,
        mxAttention ? "MX" : "FP32",
        generation,
        engine);
    Translator<I, O> translator = (Translator<I, O>) new TextGenerationTranslator(generator);
    return new ZooModel<>(model, translator);
  }
}
