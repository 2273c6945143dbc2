package io.djlmx.engine;

import ai.djl.Device;
import ai.djl.MalformedModelException;
import ai.djl.Model;
import ai.djl.inference.Predictor;
import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDList;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;
import ai.djl.nn.Activation;
import ai.djl.nn.Block;
import ai.djl.nn.Blocks;
import ai.djl.nn.ParallelBlock;
import ai.djl.nn.SequentialBlock;
import ai.djl.nn.convolutional.Conv2d;
import ai.djl.nn.core.Linear;
import ai.djl.nn.norm.BatchNorm;
import ai.djl.nn.pooling.Pool;
import ai.djl.nn.transformer.TransformerEncoderBlock;
import ai.djl.repository.zoo.Criteria;
import ai.djl.repository.zoo.ModelNotFoundException;
import ai.djl.repository.zoo.ZooModel;
import ai.djl.training.DefaultTrainingConfig;
import ai.djl.training.GradientCollector;
import ai.djl.training.Trainer;
import ai.djl.training.loss.Loss;
import ai.djl.training.optimizer.Optimizer;
import ai.djl.training.tracker.Tracker;
import ai.djl.translate.NoBatchifyTranslator;
import ai.djl.translate.TranslateException;
import ai.djl.translate.TranslatorContext;
import java.io.IOException;
import java.nio.file.Path;
import java.util.Map;
import java.util.Random;
import java.util.function.Supplier;

/** Test models built from ai.djl.nn blocks, saved under PyTorch and reloaded under MX. */
final class ModelFixtures {

  private ModelFixtures() {}

  /** float[] in, float[] out; records the engine of the last output array. */
  static final class FloatTranslator implements NoBatchifyTranslator<float[], float[]> {
    final Shape shape;
    volatile String lastEngine;

    FloatTranslator(Shape shape) {
      this.shape = shape;
    }

    @Override
    public NDList processInput(TranslatorContext ctx, float[] input) {
      return new NDList(ctx.getNDManager().create(input, shape));
    }

    @Override
    public float[] processOutput(TranslatorContext ctx, NDList list) {
      NDArray out = list.get(0);
      lastEngine = out.getManager().getEngine().getEngineName();
      return out.toType(DataType.FLOAT32, false).toFloatArray();
    }
  }

  static Block mlp() {
    return new SequentialBlock()
        .add(Linear.builder().setUnits(64).build())
        .add(Activation::relu)
        .add(Linear.builder().setUnits(48).build())
        .add(Activation::relu)
        .add(Linear.builder().setUnits(10).build());
  }

  static Block resnet() {
    SequentialBlock residual =
        new SequentialBlock()
            .add(conv(8))
            .add(BatchNorm.builder().build())
            .add(Activation::relu)
            .add(conv(8))
            .add(BatchNorm.builder().build());
    ParallelBlock res =
        new ParallelBlock(
            list -> new NDList(list.get(0).singletonOrThrow().add(list.get(1).singletonOrThrow())),
            java.util.List.of(residual, Blocks.identityBlock()));
    return new SequentialBlock()
        .add(conv(8))
        .add(BatchNorm.builder().build())
        .add(Activation::relu)
        .add(res)
        .add(Activation::relu)
        .add(Pool.globalAvgPool2dBlock())
        .add(Linear.builder().setUnits(10).build());
  }

  private static Block conv(int filters) {
    return Conv2d.builder()
        .setKernelShape(new Shape(3, 3))
        .optPadding(new Shape(1, 1))
        .setFilters(filters)
        .build();
  }

  static Block transformer() {
    return new SequentialBlock().add(new TransformerEncoderBlock(64, 4, 128, 0f, Activation::gelu));
  }

  /**
   * Trains {@code block} under PyTorch for {@code steps} Adam steps on a fixed synthetic sequence
   * task, saves it to {@code dir} and returns the model. Each token's target is tanh of the mean of
   * itself and its left neighbour (cyclic), so attention has something to learn; batches of 16
   * random-normal sequences, L2 loss, learning rate 1e-3, PyTorch's seed fixed.
   */
  static Model trainUnderPyTorch(Block block, Shape inputShape, Path dir, String name, int steps)
      throws IOException {
    Model pt = Model.newInstance(name, Device.cpu(), "PyTorch");
    pt.setBlock(block);
    ai.djl.engine.Engine.getEngine("PyTorch").setRandomSeed(1234);
    DefaultTrainingConfig config =
        new DefaultTrainingConfig(Loss.l2Loss())
            .optOptimizer(Optimizer.adam().optLearningRateTracker(Tracker.fixed(1e-3f)).build());
    Shape batch = new Shape(16, inputShape.get(1), inputShape.get(2));
    try (Trainer trainer = pt.newTrainer(config)) {
      trainer.initialize(inputShape);
      for (int step = 0; step < steps; step++) {
        try (NDManager scope = trainer.getManager().newSubManager()) {
          NDArray x = scope.randomNormal(batch);
          NDArray leftNeighbour = x.get(":, -1:").concat(x.get(":, :-1"), 1);
          NDArray target = x.add(leftNeighbour).mul(0.5f).tanh();
          try (GradientCollector collector = trainer.newGradientCollector()) {
            NDArray prediction = trainer.forward(new NDList(x)).singletonOrThrow();
            collector.backward(
                trainer.getLoss().evaluate(new NDList(target), new NDList(prediction)));
          }
          trainer.step();
        }
      }
    }
    pt.save(dir, name);
    return pt;
  }

  static float[] randomInput(Shape shape, long seed) {
    Random r = new Random(seed);
    float[] x = new float[Math.toIntExact(shape.size())];
    for (int i = 0; i < x.length; i++) {
      x[i] = (float) r.nextGaussian();
    }
    return x;
  }

  /** Initializes {@code block} under PyTorch, saves it to {@code dir} and returns the model. */
  static Model saveUnderPyTorch(Block block, Shape inputShape, Path dir, String name)
      throws IOException {
    Model pt = Model.newInstance(name, Device.cpu(), "PyTorch");
    pt.setBlock(block);
    ai.djl.engine.Engine.getEngine("PyTorch").setRandomSeed(1234);
    block.initialize(pt.getNDManager(), DataType.FLOAT32, inputShape);
    pt.save(dir, name);
    return pt;
  }

  static float[] predict(Model model, Shape inputShape, float[] x) throws TranslateException {
    try (Predictor<float[], float[]> p = model.newPredictor(new FloatTranslator(inputShape))) {
      return p.predict(x);
    }
  }

  static ZooModel<float[], float[]> loadMx(
      Path dir, String name, Supplier<Block> block, FloatTranslator t, Map<String, String> options)
      throws ModelNotFoundException, MalformedModelException, IOException {
    Criteria.Builder<float[], float[]> b =
        Criteria.builder()
            .setTypes(float[].class, float[].class)
            .optModelPath(dir)
            .optModelName(name)
            .optEngine("MX")
            .optBlock(block.get())
            .optTranslator(t);
    options.forEach(b::optOption);
    return b.build().loadModel();
  }

  static double cosine(float[] a, float[] b) {
    double dot = 0;
    double na = 0;
    double nb = 0;
    for (int i = 0; i < a.length; i++) {
      dot += (double) a[i] * b[i];
      na += (double) a[i] * a[i];
      nb += (double) b[i] * b[i];
    }
    return dot / Math.sqrt(na * nb);
  }
}
