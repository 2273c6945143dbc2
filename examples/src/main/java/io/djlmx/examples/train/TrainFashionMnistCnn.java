package io.djlmx.examples.train;

import ai.djl.Model;
import ai.djl.engine.Engine;
import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDList;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.Shape;
import ai.djl.training.DefaultTrainingConfig;
import ai.djl.training.EasyTrain;
import ai.djl.training.ParameterStore;
import ai.djl.training.Trainer;
import ai.djl.training.dataset.ArrayDataset;
import ai.djl.training.evaluator.Accuracy;
import ai.djl.training.listener.TrainingListener;
import ai.djl.training.loss.Loss;
import ai.djl.training.optimizer.Optimizer;
import ai.djl.training.tracker.Tracker;
import io.djlmx.zoo.cnn.FashionMnistCnn;
import io.djlmx.zoo.cnn.IdxImages;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.Paths;
import java.util.Locale;

/**
 * Trains the zoo's Fashion-MNIST CNN ({@link FashionMnistCnn#newBlock()}) with DJL's training API
 * on the PyTorch engine, seeded, and saves {@code fashion-mnist-cnn-0000.params} plus a 200-image
 * test sample (the first 200 test images, IDX gz) for the unit tests.
 *
 * <p>Run through {@code scripts/train-fashion-mnist.sh}, or: {@code java -cp ...
 * io.djlmx.examples.train.TrainFashionMnistCnn <data dir> <params out dir> <sample out dir>
 * [epochs] [seed]}. Adam (learning rate cosine-decayed from 1e-3 to 1e-5), batch 128, softmax
 * cross-entropy, 60,000 training images.
 */
public final class TrainFashionMnistCnn {

  /** Images in the committed test sample. */
  public static final int SAMPLE_SIZE = 200;

  /** Training batch size. */
  public static final int BATCH = 128;

  private TrainFashionMnistCnn() {}

  /**
   * Trains, reports test accuracy, saves the parameters and the test sample.
   *
   * @param args data directory, params directory, sample directory, optional epochs (default 8) and
   *     seed (default 42)
   * @throws Exception if a step fails
   */
  public static void main(String[] args) throws Exception {
    Path data = Paths.get(args[0]);
    Path paramsDir = Paths.get(args[1]);
    Path sampleDir = Paths.get(args[2]);
    int epochs = args.length > 3 ? Integer.parseInt(args[3]) : 8;
    int seed = args.length > 4 ? Integer.parseInt(args[4]) : 42;
    IdxImages train =
        IdxImages.read(
            data.resolve("train-images-idx3-ubyte.gz"), data.resolve("train-labels-idx1-ubyte.gz"));
    IdxImages test =
        IdxImages.read(
            data.resolve("t10k-images-idx3-ubyte.gz"), data.resolve("t10k-labels-idx1-ubyte.gz"));
    Engine pt = Engine.getEngine("PyTorch");
    pt.setRandomSeed(seed); // seeds PyTorch and DJL's shuffling (RandomUtils)
    long start = System.nanoTime();
    try (Model model = Model.newInstance(FashionMnistCnn.ARTIFACT_ID, "PyTorch");
        NDManager manager = NDManager.newBaseManager("PyTorch")) {
      model.setBlock(FashionMnistCnn.newBlock());
      ArrayDataset trainSet = dataset(manager, train, true);
      DefaultTrainingConfig config =
          new DefaultTrainingConfig(Loss.softmaxCrossEntropyLoss())
              .optOptimizer(
                  Optimizer.adam()
                      .optLearningRateTracker(
                          Tracker.cosine()
                              .setBaseValue(1e-3f)
                              .optFinalValue(1e-5f)
                              .setMaxUpdates(epochs * ((train.size() + BATCH - 1) / BATCH))
                              .build())
                      .build())
              .addEvaluator(new Accuracy())
              .addTrainingListeners(TrainingListener.Defaults.logging());
      try (Trainer trainer = model.newTrainer(config)) {
        trainer.initialize(new Shape(1, 1, FashionMnistCnn.SIDE, FashionMnistCnn.SIDE));
        EasyTrain.fit(trainer, epochs, trainSet, null);
        double seconds = (System.nanoTime() - start) / 1e9;
        double acc = testAccuracy(model, manager, test);
        System.out.printf(
            Locale.ROOT,
            "epochs %d, seed %d, %.0f s training, FP32 test accuracy %.4f (%d images)%n",
            epochs,
            seed,
            seconds,
            acc,
            test.size());
      }
      Files.createDirectories(paramsDir);
      model.setProperty("Epoch", "0"); // the zoo loads fashion-mnist-cnn-0000.params
      model.save(paramsDir, FashionMnistCnn.ARTIFACT_ID);
    }
    Files.createDirectories(sampleDir);
    test.slice(0, SAMPLE_SIZE)
        .write(
            sampleDir.resolve("sample-images-idx3-ubyte.gz"),
            sampleDir.resolve("sample-labels-idx1-ubyte.gz"));
  }

  private static ArrayDataset dataset(NDManager manager, IdxImages images, boolean shuffle) {
    float[] labels = new float[images.size()];
    for (int i = 0; i < labels.length; i++) {
      labels[i] = images.label(i);
    }
    return new ArrayDataset.Builder()
        .setData(
            manager.create(
                images.normalized(),
                new Shape(images.size(), 1, FashionMnistCnn.SIDE, FashionMnistCnn.SIDE)))
        .optLabels(manager.create(labels))
        .setSampling(BATCH, shuffle)
        .build();
  }

  /** FP32 top-1 on PyTorch, straight on the block (inference mode: batch norm's running stats). */
  private static double testAccuracy(Model model, NDManager manager, IdxImages test) {
    int correct = 0;
    ParameterStore ps = new ParameterStore(manager, false);
    for (int from = 0; from < test.size(); from += 1000) {
      int to = Math.min(test.size(), from + 1000);
      try (NDManager sub = manager.newSubManager()) {
        IdxImages part = test.slice(from, to);
        NDArray x =
            sub.create(
                part.normalized(),
                new Shape(to - from, 1, FashionMnistCnn.SIDE, FashionMnistCnn.SIDE));
        NDArray logits = model.getBlock().forward(ps, new NDList(x), false).singletonOrThrow();
        long[] pred = logits.argMax(1).toLongArray();
        for (int i = 0; i < pred.length; i++) {
          if (pred[i] == part.label(i)) {
            correct++;
          }
        }
      }
    }
    return correct / (double) test.size();
  }
}
