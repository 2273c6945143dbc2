package io.djlmx.examples;

import ai.djl.ModelException;
import ai.djl.translate.TranslateException;
import io.djlmx.format.MxFormat;
import io.djlmx.zoo.translator.SentenceSimilarity;
import java.io.IOException;
import java.io.PrintWriter;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Locale;

/**
 * The main demo: the all-MiniLM-L6-v2 sentence encoder from the djl-mx zoo, once in FP32 on DJL's
 * PyTorch engine and once with MXFP6 weights on the MX engine, embeds a real corpus (1,000 WordNet
 * definitions), answers semantic-search queries with both, and prints the answers side by side with
 * weight memory, speed and agreement.
 *
 * <p>Run it with {@code java -jar examples/target/mx.jar demo}, or this class's {@link #main}.
 */
public final class MxDemo {

  /** The default queries: descriptions whose word is in the corpus. */
  public static final List<String> DEFAULT_QUERIES =
      List.of(
          "where soldiers sleep in tents",
          "a device for talking to someone far away",
          "water that falls from the clouds",
          "the person who teaches children at school",
          "a vehicle that carries people across the sea");

  private final Options options;

  /**
   * The demo's settings.
   *
   * @param corpusSize how many corpus entries to embed (at most 1,000)
   * @param queries the search queries
   * @param topK answers shown per query
   * @param batchSize sentences per forward pass when embedding the corpus
   * @param weights the MX weight format of the second model
   * @param cacheDir where the zoo caches checkpoints, or null for its default
   * @param warmupSeconds how long each model embeds untimed corpus batches (in turn) and queries
   *     before the timed runs (at least one of each): on 2 cores the JIT takes seconds to compile
   *     the MX kernels, and timed sooner the MX model would be measured partly on unoptimized code
   */
  public record Options(
      int corpusSize,
      List<String> queries,
      int topK,
      int batchSize,
      MxFormat weights,
      Path cacheDir,
      double warmupSeconds) {

    /**
     * Returns the defaults: the whole corpus, the default queries, top 3, batch 32, MXFP6_E2M3, 12
     * s of warm-up per model (on 2 cores the MX kernels run partly interpreted for about 10 s after
     * a model starts: docs/bench/jit.md).
     *
     * @return the default options
     */
    public static Options defaults() {
      return new Options(1000, DEFAULT_QUERIES, 3, 32, MxFormat.MXFP6_E2M3, null, 12);
    }

    /**
     * Checks the options.
     *
     * @throws IllegalArgumentException naming the bad option
     */
    public Options {
      if (corpusSize <= 0) {
        throw new IllegalArgumentException("corpus size must be positive, got " + corpusSize);
      }
      if (queries == null || queries.isEmpty()) {
        throw new IllegalArgumentException("at least one query is needed");
      }
      if (topK <= 0 || batchSize <= 0) {
        throw new IllegalArgumentException(
            "top-k and batch size must be positive, got " + topK + " and " + batchSize);
      }
      if (weights == null) {
        throw new IllegalArgumentException("an MX weight format is needed");
      }
      if (!(warmupSeconds >= 0)) {
        throw new IllegalArgumentException("warm-up seconds must be >= 0, got " + warmupSeconds);
      }
      queries = List.copyOf(queries);
    }
  }

  /**
   * What one model did in the demo.
   *
   * @param label e.g. {@code "FP32 (PyTorch)"}
   * @param memory the weight memory
   * @param loadSeconds the load time
   * @param corpusPerSecond corpus sentences embedded per second at the batch size
   * @param queriesPerSecond queries embedded per second at batch 1
   * @param corpus the corpus embeddings
   * @param answers per query, the top-k hits
   */
  public record ModelRun(
      String label,
      ZooEncoder.WeightMemory memory,
      double loadSeconds,
      double corpusPerSecond,
      double queriesPerSecond,
      float[][] corpus,
      List<List<SemanticIndex.Hit>> answers) {}

  /**
   * The demo's outcome.
   *
   * @param corpus the searched corpus
   * @param queries the queries
   * @param fp32 the FP32 baseline
   * @param mx the MX model
   * @param meanCosine mean cosine between the two models' corpus embeddings
   * @param minCosine minimum of that cosine
   * @param sameTopK queries whose top-k answers are the same set under both models
   * @param sameTop1 queries whose best answer is the same under both models
   * @param batchSize the batch size the corpus was embedded with
   */
  public record Result(
      Corpus corpus,
      List<String> queries,
      ModelRun fp32,
      ModelRun mx,
      double meanCosine,
      double minCosine,
      int sameTopK,
      int sameTop1,
      int batchSize) {}

  /**
   * Creates the demo.
   *
   * @param options the settings
   */
  public MxDemo(Options options) {
    this.options = options;
  }

  /**
   * Runs the demo.
   *
   * @return the outcome
   * @throws IOException if the corpus or model files are missing
   * @throws ModelException if a model cannot be loaded
   * @throws TranslateException if embedding fails
   */
  public Result run() throws IOException, ModelException, TranslateException {
    Corpus corpus = Corpus.wordNet().head(options.corpusSize());
    ModelRun fp32 = runModel(corpus, "PyTorch", "FP32");
    ModelRun mx = runModel(corpus, "MX", options.weights().name());
    double sum = 0;
    double min = Double.POSITIVE_INFINITY;
    for (int i = 0; i < corpus.size(); i++) {
      double c = SentenceSimilarity.cosine(fp32.corpus()[i], mx.corpus()[i]);
      sum += c;
      min = Math.min(min, c);
    }
    int sameTopK = 0;
    int sameTop1 = 0;
    for (int q = 0; q < options.queries().size(); q++) {
      List<SemanticIndex.Hit> a = fp32.answers().get(q);
      List<SemanticIndex.Hit> b = mx.answers().get(q);
      if (Arrays.equals(SemanticIndex.indices(a), SemanticIndex.indices(b))) {
        sameTopK++;
      }
      if (a.get(0).index() == b.get(0).index()) {
        sameTop1++;
      }
    }
    return new Result(
        corpus,
        options.queries(),
        fp32,
        mx,
        sum / corpus.size(),
        min,
        sameTopK,
        sameTop1,
        options.batchSize());
  }

  private ModelRun runModel(Corpus corpus, String engine, String weights)
      throws IOException, ModelException, TranslateException {
    try (ZooEncoder enc = ZooEncoder.load(ZooEncoder.MINILM, engine, weights, options.cacheDir())) {
      List<String> texts = corpus.texts();
      // Warm-up: the first calls compile kernels and size buffers. It walks the corpus batch by
      // batch, so the JIT has seen the batch shapes of the timed pass (one repeated batch left the
      // MX kernels to meet new row counts, and recompile, inside the timed pass:
      // docs/bench/jit.md).
      int bs = options.batchSize();
      int next = 0;
      long warmEnd = System.nanoTime() + (long) (options.warmupSeconds() * 1e9);
      do {
        enc.embed(texts.subList(next, Math.min(texts.size(), next + bs)), bs);
        next = next + bs >= texts.size() ? 0 : next + bs;
        for (String q : options.queries()) {
          enc.embed(q);
        }
      } while (System.nanoTime() < warmEnd);
      long t0 = System.nanoTime();
      float[][] vectors = enc.embed(texts, options.batchSize());
      double corpusPerSecond = texts.size() / ((System.nanoTime() - t0) / 1e9);
      SemanticIndex index = new SemanticIndex(vectors);
      List<List<SemanticIndex.Hit>> answers = new ArrayList<>();
      long queryNanos = 0;
      for (String q : options.queries()) {
        long s = System.nanoTime();
        float[] qv = enc.embed(q);
        queryNanos += System.nanoTime() - s;
        answers.add(index.search(qv, options.topK()));
      }
      return new ModelRun(
          enc.label(),
          enc.weightMemory(),
          enc.loadNanos() / 1e9,
          corpusPerSecond,
          options.queries().size() / (queryNanos / 1e9),
          vectors,
          answers);
    }
  }

  /**
   * Prints the outcome as readable tables.
   *
   * @param r the outcome
   * @param out where to print
   */
  public static void print(Result r, PrintWriter out) {
    String a = r.fp32().label();
    String b = r.mx().label();
    out.printf(
        Locale.ROOT,
        "%nSemantic search over %d %s with all-MiniLM-L6-v2,%n%s vs %s%n",
        r.corpus().size(),
        r.corpus().name(),
        a,
        b);
    for (int q = 0; q < r.queries().size(); q++) {
      out.printf(Locale.ROOT, "%nQuery: \"%s\"%n", r.queries().get(q));
      TextTable t = new TextTable(" #", a, " cosine", b, " cosine ");
      List<SemanticIndex.Hit> ha = r.fp32().answers().get(q);
      List<SemanticIndex.Hit> hb = r.mx().answers().get(q);
      for (int i = 0; i < Math.max(ha.size(), hb.size()); i++) {
        t.addRow(
            i + 1,
            i < ha.size() ? title(r, ha.get(i)) : "",
            i < ha.size() ? f3(ha.get(i).score()) : "",
            i < hb.size() ? title(r, hb.get(i)) : "",
            i < hb.size() ? f3(hb.get(i).score()) : "");
      }
      out.print(indent(t.render()));
      SemanticIndex.Hit best = ha.get(0);
      out.printf(
          Locale.ROOT,
          "    %s: %s%n",
          r.corpus().entries().get(best.index()).title(),
          r.corpus().entries().get(best.index()).text());
    }
    ZooEncoder.WeightMemory ma = r.fp32().memory();
    ZooEncoder.WeightMemory mb = r.mx().memory();
    int n = r.queries().size();
    TextTable s = new TextTable("", " " + a, " " + b, " MX vs FP32");
    s.addRow(
        "linear weights (MB)",
        mb(ma.linearBytes()),
        mb(mb.linearBytes()),
        x(ma.linearBytes() / (double) mb.linearBytes()) + " smaller");
    s.addRow(
        "bits per linear weight", f2(ma.linearBitsPerElement()), f2(mb.linearBitsPerElement()), "");
    s.addRow(
        "all weights (MB, embeddings FP32)",
        mb(ma.totalBytes()),
        mb(mb.totalBytes()),
        x(ma.totalBytes() / (double) mb.totalBytes()) + " smaller");
    s.addRow(
        "corpus sentences/s (batch " + r.batchSize() + ")",
        f1(r.fp32().corpusPerSecond()),
        f1(r.mx().corpusPerSecond()),
        x(r.mx().corpusPerSecond() / r.fp32().corpusPerSecond()));
    s.addRow(
        "queries/s (batch 1)",
        f1(r.fp32().queriesPerSecond()),
        f1(r.mx().queriesPerSecond()),
        x(r.mx().queriesPerSecond() / r.fp32().queriesPerSecond()));
    s.addRow("load time (s)", f2(r.fp32().loadSeconds()), f2(r.mx().loadSeconds()), "");
    s.addRow("cosine to FP32, mean / min", "1", f4(r.meanCosine()) + " / " + f4(r.minCosine()), "");
    s.addRow("same best answer", n + "/" + n, r.sameTop1() + "/" + n, "");
    s.addRow(
        "same top-" + r.fp32().answers().get(0).size() + " answers",
        n + "/" + n,
        r.sameTopK() + "/" + n,
        "");
    out.printf(Locale.ROOT, "%nSummary%n");
    out.print(indent(s.render()));
    out.printf(
        Locale.ROOT,
        "%nSpeeds are one short run on this machine (after --warmup seconds of untimed runs); see"
            + " docs/BENCHMARKS.md for medians.%n");
    out.flush();
  }

  private static String title(Result r, SemanticIndex.Hit h) {
    return r.corpus().entries().get(h.index()).title();
  }

  private static String indent(String text) {
    return text.lines().map(l -> "  " + l).reduce("", (x, y) -> x + y + "\n");
  }

  private static String mb(long bytes) {
    return String.format(Locale.ROOT, "%.1f", bytes / 1e6);
  }

  private static String x(double ratio) {
    return String.format(Locale.ROOT, "%.2fx", ratio);
  }

  private static String f1(double v) {
    return String.format(Locale.ROOT, "%.1f", v);
  }

  private static String f2(double v) {
    return String.format(Locale.ROOT, "%.2f", v);
  }

  private static String f3(double v) {
    return String.format(Locale.ROOT, "%.3f", v);
  }

  private static String f4(double v) {
    return String.format(Locale.ROOT, "%.4f", v);
  }

  /**
   * Runs the demo with default options and prints the outcome.
   *
   * @param args ignored
   * @throws Exception if the demo fails
   */
  public static void main(String[] args) throws Exception {
    PrintWriter out = new PrintWriter(System.out, true, StandardCharsets.UTF_8);
    print(new MxDemo(Options.defaults()).run(), out);
  }
}
