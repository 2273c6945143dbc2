package io.djlmx.zoo;

import ai.djl.Application;
import ai.djl.MalformedModelException;
import ai.djl.Model;
import ai.djl.modality.Classifications;
import ai.djl.modality.cv.Image;
import ai.djl.repository.zoo.Criteria;
import ai.djl.repository.zoo.ModelNotFoundException;
import ai.djl.repository.zoo.ZooModel;
import ai.djl.translate.Translator;
import io.djlmx.zoo.cnn.FashionMnistCnn;
import java.io.IOException;
import java.nio.file.Path;
import java.util.HashMap;
import java.util.Map;

/**
 * Loads the zoo's Fashion-MNIST classifier ({@code io.djlmx:fashion-mnist-cnn}, {@code Image} →
 * {@code Classifications}) from the {@code .params} file on the class path.
 *
 * <p>Under the MX engine the {@code Linear} weights are packed in {@code mx.weights} (default
 * {@code MXFP6_E2M3}, or {@code FP32}) and {@code mx.activations} quantizes their inputs; the
 * options are those of the engine ({@code Criteria.optOption}, system property, environment).
 */
public final class FashionMnistCnnLoader extends ClassPathModelLoader {

  private static final String PARAMS = FashionMnistCnn.ARTIFACT_ID + "-0000.params";

  FashionMnistCnnLoader(MxModelZoo zoo) {
    super(zoo, FashionMnistCnn.ARTIFACT_ID, Application.CV.IMAGE_CLASSIFICATION);
  }

  /** {@inheritDoc} */
  @Override
  @SuppressWarnings("unchecked")
  public <I, O> ZooModel<I, O> loadModel(Criteria<I, O> criteria)
      throws IOException, ModelNotFoundException, MalformedModelException {
    if (criteria.getInputClass() != Image.class
        || criteria.getOutputClass() != Classifications.class) {
      throw new ModelNotFoundException(
          FashionMnistCnn.ARTIFACT_ID
              + " classifies Image -> Classifications; not "
              + criteria.getInputClass().getSimpleName()
              + " -> "
              + criteria.getOutputClass().getSimpleName());
    }
    Translator<I, O> translator = (Translator<I, O>) FashionMnistCnn.newTranslator();
    Map<String, String> options = new HashMap<>();
    if (criteria.getOptions() != null) {
      options.putAll(criteria.getOptions());
    }
    Path dir =
        extractResource(
            SentenceEncoderLoader.cacheDir(options), FashionMnistCnn.RESOURCE_DIR, PARAMS);
    String engine = SentenceEncoderLoader.engineName(criteria.getEngine());
    Model model = Model.newInstance(FashionMnistCnn.ARTIFACT_ID, criteria.getDevice(), engine);
    try {
      model.setBlock(FashionMnistCnn.newBlock());
      model.load(dir, FashionMnistCnn.ARTIFACT_ID, options);
    } catch (IOException | MalformedModelException | RuntimeException e) {
      model.close();
      throw e;
    }
    return new ZooModel<>(model, translator);
  }
}
