package io.djlmx.it;

import ai.djl.Device;
import ai.djl.MalformedModelException;
import ai.djl.Model;
import ai.djl.engine.Engine;
import ai.djl.ndarray.BaseNDManager;
import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDList;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;
import ai.djl.nn.Activation;
import ai.djl.nn.Block;
import ai.djl.nn.SequentialBlock;
import ai.djl.nn.core.Linear;
import ai.djl.repository.zoo.Criteria;
import ai.djl.repository.zoo.ModelNotFoundException;
import ai.djl.repository.zoo.ZooModel;
import ai.djl.translate.NoBatchifyTranslator;
import ai.djl.translate.TranslatorContext;
import java.io.IOException;
import java.lang.reflect.Field;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.Map;
import java.util.Random;
import java.util.function.Consumer;

/** Small models saved under PyTorch, loaded under MX, and probes of native state. */
final class Fixtures {

  /** Input width of the test MLP: not a multiple of 32, so ragged MX blocks are exercised. */
  static final int IN = 70;

  /** Output width of the test MLP. */
  static final int OUT = 10;

  private Fixtures() {}

  /** float[] in, float[] out, through an MX manager (the Predictor's). */
  static final class FloatTranslator implements NoBatchifyTranslator<float[], float[]> {
    private final Shape shape;

    FloatTranslator(Shape shape) {
      this.shape = shape;
    }

    @Override
    public NDList processInput(TranslatorContext ctx, float[] input) {
      return new NDList(ctx.getNDManager().create(input, shape));
    }

    @Override
    public float[] processOutput(TranslatorContext ctx, NDList list) {
      return list.get(0).toFloatArray();
    }
  }

  /** A three-layer MLP: {@code [*, 70] -> 64 -> 48 -> 10}. */
  static Block mlp() {
    return new SequentialBlock()
        .add(Linear.builder().setUnits(64).build())
        .add(Activation::relu)
        .add(Linear.builder().setUnits(48).build())
        .add(Activation::relu)
        .add(Linear.builder().setUnits(OUT).build());
  }

  /**
   * Initializes an MLP under PyTorch (seeded), lets {@code edit} change its parameters, and saves
   * it to a fresh directory.
   *
   * @param name the model name
   * @param edit changes to the parameters before saving, or null
   * @return the directory holding {@code name-0000.params}
   */
  static Path saveMlp(String name, Consumer<Block> edit) throws IOException {
    Path dir = Files.createTempDirectory("mx-it-" + name);
    try (Model pt = Model.newInstance(name, Device.cpu(), "PyTorch")) {
      Block block = mlp();
      pt.setBlock(block);
      Engine.getEngine("PyTorch").setRandomSeed(1234);
      block.initialize(pt.getNDManager(), DataType.FLOAT32, new Shape(1, IN));
      if (edit != null) {
        edit.accept(block);
      }
      pt.save(dir, name);
    }
    return dir;
  }

  /** Loads the MLP in {@code dir} on the MX engine. */
  static ZooModel<float[], float[]> loadMlp(Path dir, String name, Map<String, String> options)
      throws ModelNotFoundException, MalformedModelException, IOException {
    return loadMlp(dir, name, options, null);
  }

  /** Loads the MLP in {@code dir} on the MX engine, on {@code device} (null: the default). */
  static ZooModel<float[], float[]> loadMlp(
      Path dir, String name, Map<String, String> options, Device device)
      throws ModelNotFoundException, MalformedModelException, IOException {
    Criteria.Builder<float[], float[]> b =
        Criteria.builder()
            .setTypes(float[].class, float[].class)
            .optModelPath(dir)
            .optModelName(name)
            .optEngine("MX")
            .optBlock(mlp())
            .optTranslator(new FloatTranslator(new Shape(1, IN)));
    if (device != null) {
      b.optDevice(device);
    }
    options.forEach(b::optOption);
    return b.build().loadModel();
  }

  /** Seeded Gaussian values. */
  static float[] gaussian(int n, long seed) {
    Random r = new Random(seed);
    float[] x = new float[n];
    for (int i = 0; i < n; i++) {
      x[i] = (float) r.nextGaussian();
    }
    return x;
  }

  /** Sets one element of the named parameter's array (in place, on its own engine). */
  static void poke(Block block, String paramSuffix, int flatIndex, float value) {
    for (var p : block.getParameters()) {
      if (p.getKey().endsWith(paramSuffix)) {
        NDArray a = p.getValue().getArray();
        float[] v = a.toFloatArray();
        v[flatIndex] = value;
        a.set(v);
        return;
      }
    }
    throw new IllegalArgumentException("no parameter ending in " + paramSuffix);
  }

  /**
   * Returns the number of resources (arrays and sub-managers) {@code manager} holds directly. DJL
   * keeps them in {@code BaseNDManager.resources}, which has no public count: read it reflectively.
   */
  static int resourceCount(NDManager manager) {
    try {
      Field f = BaseNDManager.class.getDeclaredField("resources");
      f.setAccessible(true);
      return ((Map<?, ?>) f.get(manager)).size();
    } catch (ReflectiveOperationException e) {
      throw new IllegalStateException("cannot read BaseNDManager.resources", e);
    }
  }

  /**
   * Returns the MX engine's root manager and the PyTorch engine's system manager resource counts:
   * what a leaked model, predictor or array would grow.
   */
  static int[] rootCounts() {
    try (NDManager mxProbe = Engine.getEngine("MX").newBaseManager();
        NDManager ptProbe = Engine.getEngine("PyTorch").newBaseManager()) {
      // Each probe is one resource of its root while open; the MX probe also holds a PyTorch one.
      return new int[] {
        resourceCount(mxProbe.getParentManager()) - 1, resourceCount(ptProbe.getParentManager()) - 2
      };
    }
  }

  /** Resident set size of this process in kB, from /proc/self/status (0 if unavailable). */
  static long rssKb() {
    try {
      for (String line : Files.readAllLines(Path.of("/proc/self/status"))) {
        if (line.startsWith("VmRSS:")) {
          return Long.parseLong(line.replaceAll("[^0-9]", ""));
        }
      }
    } catch (IOException e) {
      return 0;
    }
    return 0;
  }

  /**
   * Resident set minus the JVM's own committed memory pools (heap, metaspace, code cache), in kB,
   * after GC and {@code malloc_trim}: the memory held outside the JVM's managed pools (PyTorch
   * tensors, MX packed weights, FFM arenas). RSS alone also grows when the JVM merely expands its
   * heap or compiles more code, which is not a leak.
   */
  static long nativeAfterGcKb() {
    // The least of three samples: transient buffers (JIT arenas, kernel scratch) come and go.
    long least = Long.MAX_VALUE;
    for (int i = 0; i < 3; i++) {
      least = Math.min(least, nativeSampleKb());
    }
    return least;
  }

  private static long nativeSampleKb() {
    rssAfterGcKb();
    mallocTrim();
    long jvm =
        java.lang.management.ManagementFactory.getMemoryMXBean().getHeapMemoryUsage().getCommitted()
            + java.lang.management.ManagementFactory.getMemoryMXBean()
                .getNonHeapMemoryUsage()
                .getCommitted();
    return rssKb() - jvm / 1024;
  }

  /** Asks glibc to return freed pages to the OS, so RSS shows live native memory. */
  private static void mallocTrim() {
    try {
      java.lang.foreign.Linker linker = java.lang.foreign.Linker.nativeLinker();
      var trim =
          linker
              .defaultLookup()
              .find("malloc_trim")
              .map(
                  a ->
                      linker.downcallHandle(
                          a,
                          java.lang.foreign.FunctionDescriptor.of(
                              java.lang.foreign.ValueLayout.JAVA_INT,
                              java.lang.foreign.ValueLayout.JAVA_LONG)));
      if (trim.isPresent()) {
        int unused = (int) trim.get().invokeExact(0L);
      }
    } catch (Throwable t) {
      // Not glibc: measure without trimming.
    }
  }

  /**
   * Returns glibc's count of bytes handed out by {@code malloc} and not yet freed, in kB: the sum,
   * over every malloc arena, of bytes in use in the arena heaps ({@code uordblks}) and in blocks
   * mapped on their own ({@code hblkhd}), from {@code mallinfo2()}. PyTorch's CPU tensors ({@code
   * posix_memalign}), FFM arenas and direct buffers ({@code Unsafe.allocateMemory}) all come from
   * malloc, so this counts their live bytes exactly, unaffected by freed memory that glibc keeps
   * cached in its arenas (which RSS shows). Returns -1 where {@code mallinfo2} is missing (not
   * glibc, or glibc before 2.33).
   *
   * @return live malloc bytes in kB, or -1
   */
  static long mallocInUseKb() {
    long bytes = io.djlmx.testing.NativeHeap.mallocInUseBytes();
    return bytes < 0 ? -1 : bytes / 1024;
  }

  /**
   * Returns the native memory held outside the JVM's own bookkeeping, in kB: glibc's live malloc
   * bytes ({@link #mallocInUseKb()}) minus the bytes the JVM mallocs for itself (Native Memory
   * Tracking's malloc total, less its {@code Other} category, which is memory Java code asked for:
   * {@code Unsafe.allocateMemory}, FFM arenas, direct buffers). What remains is PyTorch's tensors
   * and caches, the MX engine's packed weights and every other allocation the application made: a
   * leak of any of them shows here, while the JIT compiler's arena chunk pool, GC tables and symbol
   * tables (which swing by 10 to 20 MiB as compilations come and go) do not. The median of five
   * samples, each after GC.
   *
   * @return native kB outside the JVM's internals
   * @throws IllegalStateException when Native Memory Tracking is off or mallinfo2 is missing
   */
  static long applicationNativeKb() {
    long[] samples = new long[5];
    for (int i = 0; i < samples.length; i++) {
      rssAfterGcKb();
      long malloc = mallocInUseKb();
      long[] nmt = jvmMallocKb();
      if (malloc < 0) {
        throw new IllegalStateException("glibc mallinfo2() is not available on this system");
      }
      samples[i] = malloc - (nmt[0] - nmt[1]);
    }
    Arrays.sort(samples);
    return samples[samples.length / 2];
  }

  /**
   * Returns the JVM's own malloc total and its {@code Other} category in kB, from Native Memory
   * Tracking's summary (the JVM must run with {@code -XX:NativeMemoryTracking=summary}, as
   * integration-tests/pom.xml sets it).
   *
   * @return {total malloc, Other malloc}
   */
  static long[] jvmMallocKb() {
    long[] kb = io.djlmx.testing.NativeHeap.jvmMallocKb();
    if (kb == null) {
      throw new IllegalStateException(
          "Native Memory Tracking is off: run with -XX:NativeMemoryTracking=summary"
              + " (integration-tests/pom.xml sets it)");
    }
    return kb;
  }

  /** Committed Java heap in kB. */
  static long heapCommittedKb() {
    return java.lang.management.ManagementFactory.getMemoryMXBean()
            .getHeapMemoryUsage()
            .getCommitted()
        / 1024;
  }

  /**
   * Bytes held by direct {@code ByteBuffer}s (DJL decodes parameters through them); they are native
   * memory freed only after a GC, by a cleaner thread.
   */
  static long directBufferBytes() {
    for (java.lang.management.BufferPoolMXBean pool :
        java.lang.management.ManagementFactory.getPlatformMXBeans(
            java.lang.management.BufferPoolMXBean.class)) {
      if ("direct".equals(pool.getName())) {
        return pool.getMemoryUsed();
      }
    }
    return 0;
  }

  /**
   * Runs the GC until unreachable direct buffers are released (their cleaner runs after the GC, on
   * its own thread), at most about two seconds, then returns the resident set in kB.
   */
  static long rssAfterGcKb() {
    long previous = Long.MAX_VALUE;
    for (int i = 0; i < 40; i++) {
      System.gc();
      try {
        Thread.sleep(50);
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
        break;
      }
      long direct = directBufferBytes();
      if (i >= 2 && direct >= previous) {
        break;
      }
      previous = direct;
    }
    return rssKb();
  }

  /** Returns the message of {@code t} and every cause, joined, for assertions on content. */
  static String messages(Throwable t) {
    StringBuilder sb = new StringBuilder();
    for (Throwable c = t; c != null; c = c.getCause()) {
      sb.append(c.getClass().getSimpleName()).append(": ").append(c.getMessage()).append(" / ");
    }
    return sb.toString();
  }

  /** Returns the deepest cause of {@code t} of type {@code type}, or null. */
  static <T extends Throwable> T causeOf(Throwable t, Class<T> type) {
    T found = null;
    for (Throwable c = t; c != null; c = c.getCause()) {
      if (type.isInstance(c)) {
        found = type.cast(c);
      }
    }
    return found;
  }
}
