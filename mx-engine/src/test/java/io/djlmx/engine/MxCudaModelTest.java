package io.djlmx.engine;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.djl.Device;
import ai.djl.Model;
import ai.djl.inference.Predictor;
import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDList;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;
import ai.djl.nn.Activation;
import ai.djl.nn.SequentialBlock;
import ai.djl.nn.core.Linear;
import ai.djl.translate.NoopTranslator;
import ai.djl.translate.TranslateException;
import io.djlmx.format.MxFormat;
import io.djlmx.format.MxTensor;
import io.djlmx.kernel.cuda.CudaBackend;
import io.djlmx.kernel.cuda.DeviceBuffer;
import java.util.Random;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;

/**
 * A DJL model made with {@code Model.newInstance(name, Device.gpu(), "MX")}: its block initializes
 * on the device, a {@link Predictor} runs it with MX weights packed on the device and no host
 * fallback, the result matches an FP64 host reference on the MX weights, and closing the model
 * frees every device buffer. Skipped where no CUDA device is present.
 */
@Tag("gpu")
class MxCudaModelTest {

  @Test
  void mlpPredictsOnTheGpu() throws TranslateException {
    Assumptions.assumeTrue(
        CudaBackend.isAvailable(), () -> "no CUDA device: " + CudaBackend.unavailableReason());
    long live = DeviceBuffer.liveBuffers();
    MxFallbacks.reset();
    int in = 37;
    int hidden = 64;
    int out = 10;
    int batch = 5;
    float[] x = new float[batch * in];
    Random r = new Random(3);
    for (int i = 0; i < x.length; i++) {
      x[i] = (float) r.nextGaussian();
    }
    try (Model model = Model.newInstance("mlp", Device.gpu(), MxEngine.ENGINE_NAME)) {
      SequentialBlock block =
          new SequentialBlock()
              .add(Linear.builder().setUnits(hidden).build())
              .add(Activation::relu)
              .add(Linear.builder().setUnits(out).build());
      model.setBlock(block);
      block.initialize(model.getNDManager(), DataType.FLOAT32, new Shape(batch, in));
      NDArray w1 = block.getChildren().get(0).getValue().getParameters().get("weight").getArray();
      assertInstanceOf(MxCudaNDArray.class, w1);
      float[][] w = new float[2][];
      float[][] b = new float[2][];
      int[] blocks = {0, 2};
      for (int i = 0; i < 2; i++) {
        var params = block.getChildren().get(blocks[i]).getValue().getParameters();
        NDArray wi = params.get("weight").getArray();
        try (MxTensor t =
            MxTensor.quantize(wi.toFloatArray(), wi.getShape().getShape(), MxFormat.MXFP6_E2M3)) {
          w[i] = t.dequantize();
        }
        b[i] = params.get("bias").getArray().toFloatArray();
      }
      float[] y;
      try (Predictor<NDList, NDList> p = model.newPredictor(new NoopTranslator());
          NDManager m = model.getNDManager().newSubManager()) {
        NDArray input = m.create(x, new Shape(batch, in));
        NDArray result = p.predict(new NDList(input)).singletonOrThrow();
        assertInstanceOf(MxCudaNDArray.class, result);
        y = result.toFloatArray();
      }
      double[] h = new double[batch * hidden];
      for (int s = 0; s < batch; s++) {
        for (int j = 0; j < hidden; j++) {
          double acc = b[0][j];
          for (int q = 0; q < in; q++) {
            acc += (double) x[s * in + q] * w[0][j * in + q];
          }
          h[s * hidden + j] = Math.max(acc, 0);
        }
      }
      for (int s = 0; s < batch; s++) {
        for (int j = 0; j < out; j++) {
          double acc = b[1][j];
          for (int q = 0; q < hidden; q++) {
            acc += h[s * hidden + q] * w[1][j * hidden + q];
          }
          double got = y[s * out + j];
          assertTrue(
              Math.abs(got - acc) <= 1e-4 * (1 + Math.abs(acc)),
              "output " + s + "," + j + ": " + got + " vs " + acc);
        }
      }
    }
    assertEquals(0, MxFallbacks.total(), "host fallbacks: " + MxFallbacks.counts());
    assertEquals(live, DeviceBuffer.liveBuffers(), "closing the model frees its device memory");
  }
}
