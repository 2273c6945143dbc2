package io.djlmx.engine;

import ai.djl.Device;
import ai.djl.Model;
import ai.djl.inference.Predictor;
import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDList;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import ai.djl.translate.TranslateException;
import ai.djl.translate.Translator;
import ai.djl.translate.TranslatorContext;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * A {@link Predictor} for MX models that moves inputs made on another engine's manager onto MX
 * before the block runs.
 *
 * <p>A PyTorch input would dispatch {@code linear} to PyTorch, which copies the MX weight on every
 * call and never runs MX: the translator boundary is where that is caught.
 *
 * @param <I> the input type
 * @param <O> the output type
 */
public class MxPredictor<I, O> extends Predictor<I, O> {

  private static final Logger logger = LoggerFactory.getLogger(MxPredictor.class);

  private boolean warned;

  /**
   * Creates a predictor.
   *
   * @param model the model
   * @param translator the translator
   * @param device the device
   * @param copy whether to copy the parameters
   */
  public MxPredictor(Model model, Translator<I, O> translator, Device device, boolean copy) {
    super(model, translator, device, copy);
  }

  /** {@inheritDoc} */
  @Override
  protected NDList predictInternal(TranslatorContext ctx, NDList ndList) throws TranslateException {
    NDManager manager = ctx.getNDManager();
    NDList inputs = ndList;
    for (int i = 0; i < ndList.size(); i++) {
      NDArray a = ndList.get(i);
      if (a != null
          && !(a instanceof MxNDArray)
          && !(a instanceof MxCudaNDArray)
          && a.getDataType() != DataType.STRING) {
        if (inputs == ndList) {
          inputs = new NDList(ndList);
        }
        if (!warned) {
          warned = true;
          logger.info(
              "Translator input made on the {} engine: copied to MX (create inputs with"
                  + " ctx.getNDManager() to avoid the copy)",
              a.getManager().getEngine().getEngineName());
        }
        inputs.set(i, manager.from(a));
      }
    }
    return super.predictInternal(ctx, inputs);
  }
}
