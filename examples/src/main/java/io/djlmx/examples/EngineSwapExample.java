package io.djlmx.examples;

import ai.djl.Model;
import ai.djl.ModelException;
import ai.djl.engine.Engine;
import ai.djl.inference.Predictor;
import ai.djl.modality.Classifications;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.Shape;
import ai.djl.nn.Activation;
import ai.djl.nn.Block;
import ai.djl.nn.SequentialBlock;
import ai.djl.nn.core.Linear;
import ai.djl.repository.zoo.Criteria;
import ai.djl.repository.zoo.ZooModel;
import ai.djl.training.DefaultTrainingConfig;
import ai.djl.training.EasyTrain;
import ai.djl.training.Trainer;
import ai.djl.training.TrainingResult;
import ai.djl.training.dataset.ArrayDataset;
import ai.djl.training.evaluator.Accuracy;
import ai.djl.training.listener.TrainingListener;
import ai.djl.training.loss.Loss;
import ai.djl.training.optimizer.Optimizer;
import ai.djl.translate.TranslateException;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Locale;

/**
 * Example 1, engine swap: an existing DJL app trains a small MLP on handwritten digits under
 * PyTorch and saves it as {@code .params}; the same inference code then runs it on the MX engine by
 * changing only the engine name, or with no code change at all through {@code
 * DJL_DEFAULT_ENGINE=MX}.
 *
 * <p>Run: {@code java --add-modules jdk.incubator.vector -cp
 * "examples/target/mx.jar:examples/target/lib/*" io.djlmx.examples.EngineSwapExample [epochs]}.
 */
public final class EngineSwapExample {

  /** The saved model's name (its file is {@code digits-mlp-0000.params}). */
  public static final String MODEL_NAME = "digits-mlp";

  /** Images used for training; the rest are the test set. */
  public static final int TRAIN_SIZE = 1400;

  private EngineSwapExample() {}

  /**
   * The MLP: 64 pixels → 128 → 64 → 10 digits, ReLU between. The app builds the same block for
   * training and for loading.
   *
   * @return a new, uninitialized block
   */
  public static Block newBlock() {
    return new SequentialBlock()
        .add(Linear.builder().setUnits(128).build())
        .add(Activation::relu)
        .add(Linear.builder().setUnits(64).build())
        .add(Activation::relu)
        .add(Linear.builder().setUnits(10).build());
  }

  /**
   * Trains the MLP on PyTorch with DJL's training API and saves it.
   *
   * @param train the training images
   * @param epochs passes over the data
   * @param dir where to save {@code digits-mlp-0000.params}
   * @return the training accuracy of the last epoch
   * @throws IOException if saving fails
   * @throws TranslateException if a training step fails
   */
  public static float train(Digits train, int epochs, Path dir)
      throws IOException, TranslateException {
    try (Model model = Model.newInstance(MODEL_NAME, "PyTorch");
        NDManager manager = NDManager.newBaseManager("PyTorch")) {
      model.setBlock(newBlock());
      float[] flat = new float[train.size() * Digits.PIXELS];
      float[] labels = new float[train.size()];
      for (int i = 0; i < train.size(); i++) {
        System.arraycopy(train.pixels()[i], 0, flat, i * Digits.PIXELS, Digits.PIXELS);
        labels[i] = train.labels()[i];
      }
      ArrayDataset data =
          new ArrayDataset.Builder()
              .setData(manager.create(flat, new Shape(train.size(), Digits.PIXELS)))
              .optLabels(manager.create(labels))
              .setSampling(32, true)
              .build();
      DefaultTrainingConfig config =
          new DefaultTrainingConfig(Loss.softmaxCrossEntropyLoss())
              .optOptimizer(Optimizer.adam().build())
              .addEvaluator(new Accuracy())
              .addTrainingListeners(TrainingListener.Defaults.basic());
      try (Trainer trainer = model.newTrainer(config)) {
        trainer.initialize(new Shape(1, Digits.PIXELS));
        EasyTrain.fit(trainer, epochs, data, null);
        TrainingResult result = trainer.getTrainingResult();
        Files.createDirectories(dir);
        model.save(dir, MODEL_NAME);
        return result.getTrainEvaluation("Accuracy");
      }
    }
  }

  /**
   * The app's inference code: loads the saved model and classifies images. The engine is the only
   * thing that changes; {@code null} leaves it to DJL's default ({@code DJL_DEFAULT_ENGINE} or
   * {@code -Dai.djl.default_engine}).
   *
   * @param dir where the model was saved
   * @param engine {@code "PyTorch"}, {@code "MX"}, or null for the default engine
   * @param test the images to classify
   * @return the engine that ran and what it predicted
   * @throws IOException if the model files are missing
   * @throws ModelException if the model cannot be loaded
   * @throws TranslateException if prediction fails
   */
  public static Evaluation classify(Path dir, String engine, Digits test)
      throws IOException, ModelException, TranslateException {
    Criteria.Builder<float[], Classifications> builder =
        Criteria.builder()
            .setTypes(float[].class, Classifications.class)
            .optModelPath(dir)
            .optModelName(MODEL_NAME)
            .optBlock(newBlock())
            .optTranslator(new DigitTranslator());
    if (engine != null) {
      builder.optEngine(engine); // "PyTorch" -> "MX": the only change
    }
    try (ZooModel<float[], Classifications> model = builder.build().loadModel();
        Predictor<float[], Classifications> predictor = model.newPredictor()) {
      List<Classifications> out = predictor.batchPredict(List.of(test.pixels()));
      int[] predicted = new int[out.size()];
      double[] confidence = new double[out.size()];
      int correct = 0;
      for (int i = 0; i < out.size(); i++) {
        Classifications.Classification best = out.get(i).best();
        predicted[i] = Integer.parseInt(best.getClassName());
        confidence[i] = best.getProbability();
        if (predicted[i] == test.labels()[i]) {
          correct++;
        }
      }
      return new Evaluation(
          model.getNDManager().getEngine().getEngineName(),
          correct / (double) test.size(),
          predicted,
          confidence);
    }
  }

  /**
   * What one engine predicted.
   *
   * @param engine the engine that ran the model
   * @param accuracy the fraction of test images classified right
   * @param predicted the predicted digit per image
   * @param confidence the probability of the predicted digit per image
   */
  public record Evaluation(String engine, double accuracy, int[] predicted, double[] confidence) {

    /**
     * Returns the fraction of images on which two evaluations predict the same digit.
     *
     * @param other another evaluation of the same images
     * @return the agreement in [0, 1]
     */
    public double agreement(Evaluation other) {
      int same = 0;
      for (int i = 0; i < predicted.length; i++) {
        if (predicted[i] == other.predicted[i]) {
          same++;
        }
      }
      return same / (double) predicted.length;
    }
  }

  /**
   * Trains, saves, then classifies the test images on PyTorch, on MX, and on the default engine.
   *
   * @param args optional: the number of epochs (default 5)
   * @throws Exception if a step fails
   */
  public static void main(String[] args) throws Exception {
    int epochs = args.length > 0 ? Integer.parseInt(args[0]) : 5;
    Digits all = Digits.load();
    Digits train = all.slice(0, TRAIN_SIZE);
    Digits test = all.slice(TRAIN_SIZE, all.size());
    Path dir = Files.createTempDirectory("digits-mlp");
    float trainAccuracy = train(train, epochs, dir);
    System.out.printf(
        Locale.ROOT,
        "Trained on PyTorch for %d epochs (train accuracy %.3f), saved to %s%n",
        epochs,
        trainAccuracy,
        dir);
    Evaluation pt = classify(dir, "PyTorch", test);
    Evaluation mx = classify(dir, "MX", test);
    Evaluation dflt = classify(dir, null, test);
    TextTable t =
        new TextTable("optEngine", "engine that ran", " test accuracy", " same as PyTorch");
    t.addRow("\"PyTorch\"", pt.engine(), f3(pt.accuracy()), f3(1.0));
    t.addRow("\"MX\"", mx.engine(), f3(mx.accuracy()), f3(mx.agreement(pt)));
    t.addRow(
        "(none: default " + Engine.getDefaultEngineName() + ")",
        dflt.engine(),
        f3(dflt.accuracy()),
        f3(dflt.agreement(pt)));
    System.out.print(t.render());
    System.out.println("Run again with DJL_DEFAULT_ENGINE=MX: the last row runs on MX, same code.");
  }

  private static String f3(double v) {
    return String.format(Locale.ROOT, "%.3f", v);
  }
}
