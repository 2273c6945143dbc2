package io.djlmx.examples.train;

import ai.djl.Model;
import ai.djl.engine.Engine;
import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDList;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.Shape;
import ai.djl.training.DefaultTrainingConfig;
import ai.djl.training.GradientCollector;
import ai.djl.training.Trainer;
import ai.djl.training.optimizer.Optimizer;
import ai.djl.training.tracker.Tracker;
import io.djlmx.zoo.lm.ByteTokenizer;
import io.djlmx.zoo.lm.FortuneCorpus;
import io.djlmx.zoo.lm.HeldOutLoss;
import io.djlmx.zoo.lm.TinyLm;
import io.djlmx.zoo.lm.TinyLmConfig;
import java.io.OutputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.Paths;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.Properties;
import java.util.Random;

/**
 * Trains the zoo's {@code tiny-lm} ({@link TinyLm} of {@link TinyLmConfig#DEFAULT}) on the fortune
 * corpus ({@link FortuneCorpus}) with DJL's training API on the PyTorch engine, seeded, and saves
 * {@code tiny-lm-0000.params}, {@code tiny-lm.properties} (shape, tokenizer, training record) and a
 * held-out sample for the unit tests.
 *
 * <p>Run through {@code scripts/train-tiny-lm.sh}, or: {@code java -cp ...
 * io.djlmx.examples.train.TrainTinyLm <fortune dir> <params out dir> <sample out file> [steps]
 * [seed]}. Each step takes {@value #BATCH} windows of 129 tokens at offsets drawn from {@code new
 * Random(seed)} over the training stream. Adam, learning rate warmed up linearly over {@value
 * #WARMUP} steps to 1e-3 then cosine-decayed to 1e-4, gradients clipped at 1; FP32 attention.
 */
public final class TrainTinyLm {

  /** Windows per training step. */
  public static final int BATCH = 16;

  /** Steps of linear learning-rate warm-up. */
  public static final int WARMUP = 30;

  /** Held-out windows in the committed test sample. */
  public static final int SAMPLE_WINDOWS = 16;

  private TrainTinyLm() {}

  /**
   * Trains, evaluates and saves.
   *
   * @param args fortune directory, params directory, sample file, optional steps (default 200) and
   *     seed (default 42)
   * @throws Exception if a step fails
   */
  public static void main(String[] args) throws Exception {
    Path corpusDir = Paths.get(args[0]);
    Path paramsDir = Paths.get(args[1]);
    Path sampleFile = Paths.get(args[2]);
    int steps = args.length > 3 ? Integer.parseInt(args[3]) : 200;
    int seed = args.length > 4 ? Integer.parseInt(args[4]) : 42;
    TinyLmConfig cfg = TinyLmConfig.DEFAULT;
    int ctx = cfg.contextLength();
    FortuneCorpus corpus = FortuneCorpus.read(corpusDir);
    int[] train = FortuneCorpus.tokens(corpus.train());
    int[] heldOut = FortuneCorpus.tokens(corpus.heldOut());
    List<String> sampleDocs = sampleDocs(corpus.heldOut(), ctx);
    int[] sample = FortuneCorpus.tokens(sampleDocs);
    System.out.printf(
        Locale.ROOT,
        "corpus: %d train documents (%d tokens), %d held-out (%d tokens); %d parameters%n",
        corpus.train().size(),
        train.length,
        corpus.heldOut().size(),
        heldOut.length,
        cfg.parameterCount());

    Engine.getEngine("PyTorch").setRandomSeed(seed);
    Random offsets = new Random(seed);
    long start = System.nanoTime();
    Properties record = new Properties();
    try (Model model = Model.newInstance("tiny-lm", "PyTorch");
        NDManager manager = NDManager.newBaseManager("PyTorch")) {
      TinyLm block = new TinyLm(cfg);
      model.setBlock(block);
      Tracker lr =
          Tracker.warmUp()
              .optWarmUpBeginValue(1e-5f)
              .optWarmUpSteps(WARMUP)
              .setMainTracker(
                  Tracker.cosine()
                      .setBaseValue(1e-3f)
                      .optFinalValue(1e-4f)
                      .setMaxUpdates(Math.max(1, steps - WARMUP))
                      .build())
              .build();
      DefaultTrainingConfig config =
          new DefaultTrainingConfig(new NextTokenLoss())
              .optOptimizer(Optimizer.adam().optLearningRateTracker(lr).optClipGrad(1f).build());
      double recentLoss = 0;
      int recent = 0;
      int skipped = 0;
      try (Trainer trainer = model.newTrainer(config)) {
        trainer.initialize(new Shape(BATCH, ctx));
        for (int step = 1; step <= steps; step++) {
          long[] x = new long[BATCH * ctx];
          long[] y = new long[BATCH * ctx];
          for (int b = 0; b < BATCH; b++) {
            int o = offsets.nextInt(train.length - ctx - 1);
            for (int t = 0; t < ctx; t++) {
              x[b * ctx + t] = train[o + t];
              y[b * ctx + t] = train[o + t + 1];
            }
          }
          float loss;
          try (NDManager sub = manager.newSubManager()) {
            NDArray xs = sub.create(x, new Shape(BATCH, ctx));
            NDArray ys = sub.create(y, new Shape(BATCH, ctx));
            // as EasyTrain: forward and backward inside the collector, the update after it
            try (GradientCollector gc = trainer.newGradientCollector()) {
              NDList preds = trainer.forward(new NDList(xs));
              NDArray l = trainer.getLoss().evaluate(new NDList(ys), preds);
              gc.backward(l);
              loss = l.getFloat();
            }
            if (!Float.isFinite(loss)) {
              throw new IllegalStateException(
                  "Training diverged at step " + step + ": loss " + loss + nonFinite(block));
            }
            // a non-finite gradient (seen rarely in layer 0's attention) skips the update, as
            // mixed-precision training skips overflowing steps, instead of poisoning the weights
            if (zeroNonFiniteGradients(block)) {
              skipped++;
              System.out.printf(
                  Locale.ROOT, "step %d: non-finite gradient, update skipped%n", step);
            } else {
              trainer.step();
            }
          }
          if (step > steps - 100) {
            recentLoss += loss;
            recent++;
          }
          if (step % 20 == 0 || step == 1) {
            System.out.printf(
                Locale.ROOT,
                "step %d/%d loss %.4f (%.0f s)%n",
                step,
                steps,
                loss,
                (System.nanoTime() - start) / 1e9);
          }
        }
      }
      double seconds = (System.nanoTime() - start) / 1e9;
      HeldOutLoss held =
          HeldOutLoss.evaluate(block, manager, heldOut, ctx, Integer.MAX_VALUE, BATCH);
      HeldOutLoss onSample =
          HeldOutLoss.evaluate(block, manager, sample, ctx, SAMPLE_WINDOWS, SAMPLE_WINDOWS);
      System.out.printf(
          Locale.ROOT,
          "steps %d (%d skipped), seed %d, %.0f s training; train loss (last 100 steps) %.4f; held-out loss"
              + " %.4f (perplexity %.3f, %d tokens); sample loss %.4f%n",
          steps,
          skipped,
          seed,
          seconds,
          recentLoss / recent,
          held.meanNll(),
          held.perplexity(),
          held.tokens(),
          onSample.meanNll());
      cfg.writeTo(record);
      new ByteTokenizer().writeTo(record);
      record.setProperty("train.corpus", "Debian fortunes + fortunes-min 1:1.99.1-7.3");
      record.setProperty("train.splitSeed", String.valueOf(FortuneCorpus.SPLIT_SEED));
      record.setProperty("train.heldOutFraction", String.valueOf(FortuneCorpus.HELD_OUT_FRACTION));
      record.setProperty("train.seed", String.valueOf(seed));
      record.setProperty("train.steps", String.valueOf(steps));
      record.setProperty("train.batch", String.valueOf(BATCH));
      record.setProperty("train.skippedSteps", String.valueOf(skipped));
      record.setProperty("train.seconds", String.format(Locale.ROOT, "%.0f", seconds));
      record.setProperty("train.tokens", String.valueOf((long) steps * BATCH * ctx));
      record.setProperty("train.loss", String.format(Locale.ROOT, "%.4f", recentLoss / recent));
      record.setProperty("heldOut.loss", String.format(Locale.ROOT, "%.4f", held.meanNll()));
      record.setProperty("heldOut.tokens", String.valueOf(held.tokens()));
      record.setProperty(
          "heldOut.sampleLoss", String.format(Locale.ROOT, "%.4f", onSample.meanNll()));
      record.setProperty("heldOut.sampleWindows", String.valueOf(SAMPLE_WINDOWS));
      Files.createDirectories(paramsDir);
      model.setProperty("Epoch", "0"); // the zoo loads tiny-lm-0000.params
      model.save(paramsDir, "tiny-lm");
    }
    try (OutputStream out = Files.newOutputStream(paramsDir.resolve("tiny-lm.properties"))) {
      record.store(out, "tiny-lm: shape, tokenizer and training record (scripts/train-tiny-lm.sh)");
    }
    Files.createDirectories(sampleFile.toAbsolutePath().getParent());
    FortuneCorpus.write(sampleDocs, sampleFile);
    System.out.println("saved at " + Instant.now());
  }

  /** Zeroes every gradient when any holds NaN or infinity; returns whether it did. */
  private static boolean zeroNonFiniteGradients(TinyLm block) {
    boolean bad = false;
    for (var p : block.getParameters()) {
      NDArray g = p.getValue().getArray().getGradient();
      if (g.isNaN().any().getBoolean() || g.isInfinite().any().getBoolean()) {
        bad = true;
        break;
      }
    }
    if (bad) {
      for (var p : block.getParameters()) {
        NDArray g = p.getValue().getArray().getGradient();
        g.set(new float[(int) g.size()]);
      }
    }
    return bad;
  }

  /** Names the parameters holding NaN or infinity, to say where a divergence started. */
  private static String nonFinite(TinyLm block) {
    StringBuilder s = new StringBuilder();
    for (var p : block.getParameters()) {
      NDArray a = p.getValue().getArray();
      if (a.isNaN().any().getBoolean() || a.isInfinite().any().getBoolean()) {
        s.append(s.length() == 0 ? "; non-finite parameters: " : ", ").append(p.getKey());
      }
    }
    return s.length() == 0 ? "; all parameters finite" : s.toString();
  }

  /** The first held-out documents that fill {@link #SAMPLE_WINDOWS} windows. */
  private static List<String> sampleDocs(List<String> heldOut, int ctx) {
    List<String> docs = new ArrayList<>();
    long need = (long) SAMPLE_WINDOWS * ctx + 1;
    long have = 0;
    for (String d : heldOut) {
      docs.add(d);
      have += new ByteTokenizer().encode(d).length + 1;
      if (have >= need) {
        break;
      }
    }
    return docs;
  }
}
