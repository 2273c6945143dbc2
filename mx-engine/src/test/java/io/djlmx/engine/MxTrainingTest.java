package io.djlmx.engine;

import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.djl.Model;
import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDList;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.Shape;
import ai.djl.nn.Block;
import ai.djl.nn.Parameter;
import ai.djl.repository.zoo.ZooModel;
import ai.djl.training.DefaultTrainingConfig;
import ai.djl.training.GradientCollector;
import ai.djl.training.Trainer;
import ai.djl.training.loss.Loss;
import ai.djl.training.optimizer.Optimizer;
import ai.djl.training.tracker.Tracker;
import io.djlmx.engine.ModelFixtures.FloatTranslator;
import java.nio.file.Path;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** Fine-tuning a model loaded under MX: runs on PyTorch's FP32 path, then inference re-packs. */
class MxTrainingTest {

  @TempDir Path dir;

  @Test
  void fewStepsReduceLossAndInvalidateTheWeightCache() throws Exception {
    Shape in = new Shape(16, 32);
    try (Model pt = ModelFixtures.saveUnderPyTorch(ModelFixtures.mlp(), in, dir, "mlp")) {
      // saved; the PyTorch copy is not used further
    }
    FloatTranslator t = new FloatTranslator(in);
    try (ZooModel<float[], float[]> model =
        ModelFixtures.loadMx(dir, "mlp", ModelFixtures::mlp, t, Map.of())) {
      MxModel mx = assertInstanceOf(MxModel.class, model.getWrappedModel());
      Block block = mx.getBlock();
      Parameter first = block.getParameters().get(0).getValue();
      MxNDArray weight = assertInstanceOf(MxNDArray.class, first.getArray());
      MxWeight packedBefore = MxLinear.prepare(weight, null, mx.getConfig());
      DefaultTrainingConfig config =
          new DefaultTrainingConfig(Loss.l2Loss())
              .optOptimizer(Optimizer.sgd().setLearningRateTracker(Tracker.fixed(0.05f)).build());
      try (Trainer trainer = mx.newTrainer(config)) {
        NDManager m = trainer.getManager();
        NDArray x = m.randomNormal(in);
        NDArray y = m.randomNormal(new Shape(16, 10));
        float firstLoss = Float.NaN;
        float lastLoss = Float.NaN;
        for (int step = 0; step < 8; step++) {
          try (GradientCollector gc = trainer.newGradientCollector()) {
            NDArray pred = trainer.forward(new NDList(x)).singletonOrThrow();
            NDArray loss = trainer.getLoss().evaluate(new NDList(y), new NDList(pred));
            gc.backward(loss);
            float l = loss.getFloat();
            if (step == 0) {
              firstLoss = l;
            }
            lastLoss = l;
          }
          trainer.step();
        }
        assertTrue(lastLoss < firstLoss, "loss " + firstLoss + " -> " + lastLoss);
      }
      MxWeight packedAfter = MxLinear.prepare(weight, null, mx.getConfig());
      assertNotEquals(packedBefore, packedAfter, "a training step must invalidate the MX weight");
      assertTrue(packedAfter.version() > packedBefore.version());
      float[] out = model.newPredictor().predict(ModelFixtures.randomInput(in, 3));
      assertTrue(Float.isFinite(out[0]));
      // A write that bypasses the MX array (on the PyTorch array itself) is caught by the
      // fingerprint.
      weight.getDelegate().muli(0.5f);
      MxWeight packedBypassed = MxLinear.prepare(weight, null, mx.getConfig());
      assertNotEquals(packedAfter, packedBypassed, "a write on the PyTorch array must invalidate");
      assertSame(packedBypassed, MxLinear.prepare(weight, null, mx.getConfig()));
    }
  }
}
