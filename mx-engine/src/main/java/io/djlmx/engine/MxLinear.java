package io.djlmx.engine;

import ai.djl.Device;
import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDList;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;
import ai.djl.pytorch.engine.PtNDArray;
import io.djlmx.format.E8M0;
import io.djlmx.format.MxFormat;
import io.djlmx.format.MxTensor;
import io.djlmx.format.ScaleMode;
import io.djlmx.kernel.LinearKernel;
import io.djlmx.kernel.cpu.CpuLinearKernel;
import io.djlmx.kernel.cuda.CudaMxLinear;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.ByteBuffer;
import java.util.EnumMap;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.atomic.LongAdder;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The MX {@code linear}: {@code y = x·Wᵀ + b} with {@code W} in an MX format.
 *
 * <p>Three paths, chosen per call:
 *
 * <ul>
 *   <li><b>kernel</b>: a {@link LinearKernel} registered for the device type reads the input
 *       zero-copy from PyTorch's memory and writes into a fresh PyTorch tensor; the weight is
 *       packed once ({@link LinearKernel#prepare}) and cached on the weight array;
 *   <li><b>emulation</b>: the weight is quantized and dequantized once and PyTorch's FP32 linear
 *       runs on it (no kernel for the device, non-FP32 input); activations, when {@code
 *       mx.activations} is set, are quantized and dequantized per call;
 *   <li><b>FP32</b>: PyTorch's linear on the original weight, while gradients are recorded (the
 *       kernels are not differentiable) and for parameters matched by {@code mx.exclude}.
 * </ul>
 *
 * <p>Other engineers' code calls {@link #linear(NDArray, NDArray, NDArray)} for an MX linear on MX
 * arrays, and {@link #registerKernel(String, LinearKernel)} to plug a kernel in for a device type.
 */
public final class MxLinear {

  private static final Logger logger = LoggerFactory.getLogger(MxLinear.class);

  private static final Map<String, LinearKernel> KERNELS = new ConcurrentHashMap<>();

  /** Weights packed so far, process-wide: lets tests and monitoring see the cache pack once. */
  private static final AtomicLong PACK_COUNT = new AtomicLong();

  private static final Map<Path, LongAdder> CALLS = new EnumMap<>(Path.class);

  /** The way one {@code linear} call ran. */
  public enum Path {
    /** An MX kernel on the packed weight. */
    KERNEL,
    /** PyTorch on the quantized-then-dequantized weight. */
    EMULATION,
    /**
     * PyTorch on the FP32 weight: gradients recorded, an excluded parameter, or a non-MX weight.
     */
    FP32
  }

  static {
    try {
      KERNELS.put(Device.Type.CPU, new CpuLinearKernel());
    } catch (RuntimeException | LinkageError e) {
      // e.g. the JVM runs without --add-modules jdk.incubator.vector
      logger.warn(
          "MX CPU linear kernel unavailable ({}): linear runs as MX emulation", e.toString());
    }
  }

  static {
    for (Path p : Path.values()) {
      CALLS.put(p, new LongAdder());
    }
  }

  /** The calibration in progress, or null: while set, its weights run FP32 and feed it. */
  private static volatile GramRecorder recorder;

  private MxLinear() {}

  /**
   * Makes {@code r} the active calibration recorder: until {@link #stopRecording}, {@code linear}
   * calls on its weights run in FP32 (the model being calibrated is the FP32 model) and add their
   * inputs to it.
   *
   * @throws IllegalStateException when another calibration is in progress
   */
  static synchronized void startRecording(GramRecorder r) {
    if (recorder != null) {
      throw new IllegalStateException(
          "Another MX calibration is in progress in this JVM: one at a time");
    }
    recorder = r;
  }

  /** Ends the recording started with {@link #startRecording}. */
  static synchronized void stopRecording(GramRecorder r) {
    if (recorder == r) {
      recorder = null;
    }
  }

  /**
   * Returns how many times a {@code linear} weight has been packed into MX in this process (all
   * models together). Each parameter is packed once per change of its values, so under any number
   * of concurrent predictions this grows by one per weight, never per call.
   *
   * @return the number of weights packed since the JVM started
   */
  public static long getPackCount() {
    return PACK_COUNT.get();
  }

  /** Counts one weight packed (the GPU path packs its own). */
  static void countPack() {
    PACK_COUNT.incrementAndGet();
  }

  /** Counts one call that took {@code path} (the GPU path counts its own). */
  static void countCall(Path path) {
    CALLS.get(path).increment();
  }

  /**
   * Returns how many {@code linear} calls took {@code path} in this process, so that a fallback is
   * visible, never silent.
   *
   * @param path the path
   * @return the number of calls
   */
  public static long getCallCount(Path path) {
    return CALLS.get(path).sum();
  }

  /**
   * Registers the kernel {@code linear} uses for arrays on devices of {@code deviceType}.
   *
   * @param deviceType a {@link Device.Type} value, e.g. {@code "cpu"} or {@code "gpu"}
   * @param kernel the kernel, or null to remove it (then that device type uses emulation)
   */
  public static void registerKernel(String deviceType, LinearKernel kernel) {
    if (kernel == null) {
      KERNELS.remove(deviceType);
    } else {
      KERNELS.put(deviceType, kernel);
    }
  }

  /**
   * Returns the kernel registered for {@code deviceType}, or null.
   *
   * @param deviceType a {@link Device.Type} value
   * @return the kernel, or null
   */
  public static LinearKernel getKernel(String deviceType) {
    return KERNELS.get(deviceType);
  }

  /**
   * {@link #linear} with an epilogue fused into the GPU kernels, for MX GPU arrays; null where the
   * call would not run on them (the caller then runs {@link #linear} and the epilogue as its own
   * op).
   */
  static NDList deviceLinear(
      NDArray input, NDArray weight, NDArray bias, CudaMxLinear.Epilogue epilogue) {
    if (!(weight instanceof MxCudaNDArray || input instanceof MxCudaNDArray)) {
      return null;
    }
    checkShapes(input, weight, bias);
    GramRecorder r = recorder;
    if (r != null && r.tracks(weight)) {
      return null;
    }
    return MxCudaLinear.linear(input, weight, bias, epilogue);
  }

  /**
   * Computes {@code input·weightᵀ + bias} the way {@code ai.djl.nn.core.Linear} asks for it, on MX
   * weights when {@code weight} is an MX array.
   *
   * @param input the input {@code [..., k]}
   * @param weight the weight {@code [n, k]}
   * @param bias the bias {@code [n]}, or null
   * @return a list holding the output {@code [..., n]}
   * @throws IllegalArgumentException on mismatched shapes, a non-floating-point input, or a weight
   *     holding NaN or infinity
   */
  public static NDList linear(NDArray input, NDArray weight, NDArray bias) {
    checkShapes(input, weight, bias);
    GramRecorder r = recorder;
    if (r != null && r.tracks(weight)) {
      r.add(weight, input);
      CALLS.get(Path.FP32).increment();
      return pytorchLinear(input, weight, bias);
    }
    if (weight instanceof MxCudaNDArray || input instanceof MxCudaNDArray) {
      return MxCudaLinear.linear(input, weight, bias);
    }
    if (!(weight instanceof MxNDArray w) || MxGradientCollector.isRecording()) {
      CALLS.get(Path.FP32).increment();
      return pytorchLinear(input, weight, bias);
    }
    MxWeight mx = prepare(w, null, w.getManager().getConfig());
    if (mx.isExcluded()) {
      CALLS.get(Path.FP32).increment();
      return pytorchLinear(input, weight, bias);
    }
    MxConfig config = w.getManager().getConfig();
    LinearKernel kernel = mx.kernel();
    if (mx.prepared() != null
        && kernel == KERNELS.get(input.getDevice().getDeviceType())
        && input.getDataType() == DataType.FLOAT32
        && (bias == null || bias.getDataType() == DataType.FLOAT32)
        && input.getDevice().equals(weight.getDevice())) {
      CALLS.get(Path.KERNEL).increment();
      return kernelLinear(kernel, input, mx, bias, config);
    }
    if (CALLS.get(Path.EMULATION).sum() == 0) {
      logger.info(
          "MX linear runs as emulation on PyTorch for {} input on {} (no kernel for it)",
          input.getDataType(),
          input.getDevice());
    }
    CALLS.get(Path.EMULATION).increment();
    return emulatedLinear(input, w, mx, bias, config);
  }

  private static void checkShapes(NDArray input, NDArray weight, NDArray bias) {
    Shape x = input.getShape();
    Shape ws = weight.getShape();
    if (ws.dimension() != 2) {
      throw new IllegalArgumentException(
          "linear weight must be [out, in], got shape "
              + ws
              + " (parameter "
              + weight.getName()
              + ")");
    }
    if (x.dimension() < 1 || x.get(x.dimension() - 1) != ws.get(1)) {
      throw new IllegalArgumentException(
          "linear input shape "
              + x
              + " does not match weight shape "
              + ws
              + ": the input's last axis must be "
              + ws.get(1)
              + " (parameter "
              + weight.getName()
              + ")");
    }
    if (bias != null && (bias.getShape().dimension() != 1 || bias.getShape().get(0) != ws.get(0))) {
      throw new IllegalArgumentException(
          "linear bias shape " + bias.getShape() + " does not match weight shape " + ws);
    }
    if (!input.getDataType().isFloating()) {
      throw new IllegalArgumentException(
          "linear input must be floating point (FLOAT32 for the MX kernels), got "
              + input.getDataType());
    }
  }

  private static NDList pytorchLinear(NDArray input, NDArray weight, NDArray bias) {
    NDArray x = MxNDArray.unwrap(input);
    NDList out = x.getNDArrayInternal().linear(x, MxNDArray.unwrap(weight), MxNDArray.unwrap(bias));
    return rewrap(input, weight, out);
  }

  private static NDList rewrap(NDArray input, NDArray weight, NDList out) {
    if (input instanceof MxNDArray mx) {
      return mx.wrap(out);
    }
    if (weight instanceof MxNDArray mx) {
      return mx.wrap(out);
    }
    return out;
  }

  /**
   * Returns the MX form of {@code weight}, packing it now if it has none or it changed since.
   *
   * @param weight the weight array
   * @param name the parameter name for messages and {@code mx.exclude}; null: the array's name
   * @param config the configuration
   * @return the cached MX weight
   * @throws IllegalArgumentException if the weight holds NaN or infinity
   */
  static MxWeight prepare(MxNDArray weight, String name, MxConfig config) {
    MxWeight cached = weight.getWeight();
    long version = weight.getVersion();
    LinearKernel kernel = KERNELS.get(weight.getDevice().getDeviceType());
    if (weight.isFp32Released()) {
      // No FP32 storage left to be written behind the MX array's back: the version decides.
      if (isCurrent(cached, version, cached == null ? 0 : cached.fingerprint(), kernel, name)) {
        return cached;
      }
    } else if (config.isKeepFp32()) {
      // Nothing frees the storage under us: fingerprint without the lock.
      if (isCurrent(cached, version, fingerprint(weight), kernel, name)) {
        return cached;
      }
    }
    synchronized (weight) {
      // Under the lock, where a release cannot free the storage we read.
      cached = weight.getWeight();
      version = weight.getVersion();
      if (weight.isFp32Released()
          ? !isCurrent(cached, version, cached == null ? 0 : cached.fingerprint(), kernel, name)
          : !isCurrent(cached, version, fingerprint(weight), kernel, name)) {
        String paramName = name != null ? name : cached != null ? cached.name() : weight.getName();
        long fingerprint = fingerprint(weight); // reads the values back if released
        MxWeight built = build(weight, paramName, version, config);
        built.setFingerprint(fingerprint);
        weight.setWeight(built);
        cached = built;
      }
      if (canRelease(weight, cached, config)) {
        weight.releaseFp32();
      }
      return cached;
    }
  }

  /**
   * Installs an already-packed MX tensor as the MX form of {@code weight}, so that a checkpoint
   * holding MX codes is not dequantized and quantized again at load. The tensor is handed to the
   * device's kernel ({@link LinearKernel#prepare}) and not retained: the caller still owns and
   * closes it. Then the weight's FP32 storage is released as after any packing, so its values need
   * not have been written: where they are read (any op on the weight array as an ordinary array)
   * they are the dequantized MX values.
   *
   * @param weight the weight array {@code [n, k]}
   * @param packed its MX values: shape {@code [n, k]}, blocks of 32, the format of {@code config}
   * @param name the parameter name, as {@link MxModel} names it (messages, {@code mx.exclude})
   * @param config the model's configuration
   * @return true when installed with the FP32 storage released; false when the weight is not
   *     eligible (excluded by {@code mx.exclude}, no kernel for its device, {@code mx.keepFp32} on,
   *     a gradient attached, not a CPU FP32 MX array: nothing installed, the ordinary path packs it
   *     from its FP32 values), or its kernel cannot read values back (installed but FP32 kept: the
   *     caller must write the values, which makes the weight be packed again from them)
   * @throws IllegalArgumentException if the tensor's shape, block size or format does not match, or
   *     it holds a NaN scale
   */
  static boolean adopt(NDArray weight, MxTensor packed, String name, MxConfig config) {
    if (!(weight instanceof MxNDArray w)
        || config.getWeights() == null
        || config.isExcluded(name)
        || config.isKeepFp32()
        || MxGradientCollector.isRecording()
        || w.hasGradient()
        || w.getDataType() != DataType.FLOAT32
        || !Device.Type.CPU.equals(w.getDevice().getDeviceType())) {
      return false;
    }
    LinearKernel kernel = KERNELS.get(w.getDevice().getDeviceType());
    if (kernel == null) {
      return false;
    }
    long[] shape = w.getShape().getShape();
    if (packed.isClosed()
        || !java.util.Arrays.equals(shape, packed.shape())
        || packed.blockSize() != MxFormat.DEFAULT_BLOCK_SIZE) {
      throw new IllegalArgumentException(
          "Packed MX weight for parameter "
              + name
              + " has shape "
              + java.util.Arrays.toString(packed.shape())
              + " and block size "
              + packed.blockSize()
              + "; the parameter is "
              + w.getShape()
              + " in blocks of "
              + MxFormat.DEFAULT_BLOCK_SIZE
              + (packed.isClosed() ? " (and the tensor is closed)" : ""));
    }
    if (packed.format() != config.getWeights()) {
      throw new IllegalArgumentException(
          "Packed MX weight for parameter "
              + name
              + " is "
              + packed.format()
              + " but the model's mx.weights is "
              + config.getWeights());
    }
    // the placeholder's values are fingerprinted by install and then released: from now on the
    // array's values are the MX values
    install(w, name, packed, config);
    return w.isFp32Released();
  }

  /**
   * Returns whether the FP32 storage of {@code weight} may be freed: a CPU FP32 array not being
   * trained, packed for a kernel that can write its values back, and {@code mx.keepFp32} off.
   */
  private static boolean canRelease(MxNDArray weight, MxWeight mx, MxConfig config) {
    return !config.isKeepFp32()
        && !weight.isFp32Released()
        && mx.prepared() != null
        && mx.prepared().canDequantize()
        && !MxGradientCollector.isRecording()
        && !weight.hasGradient()
        && weight.getDataType() == DataType.FLOAT32
        && Device.Type.CPU.equals(weight.getDevice().getDeviceType());
  }

  private static boolean isCurrent(
      MxWeight cached, long version, long fingerprint, LinearKernel kernel, String name) {
    // A weight packed by a kernel since unregistered (or replaced) is packed again.
    return cached != null
        && cached.version() == version
        && cached.fingerprint() == fingerprint
        && (cached.isExcluded() || cached.kernel() == kernel)
        && (name == null || name.equals(cached.name()));
  }

  /**
   * Returns a cheap fingerprint of a CPU FP32 weight: 64 sampled elements, read from PyTorch's
   * memory. It catches writes that bypass the MX array (made on the PyTorch array directly); writes
   * through the MX array are caught by its version. Other weights get 0 (version only).
   */
  static long fingerprint(MxNDArray weight) {
    PtNDArray pt = weight.getDelegate();
    if (pt.getDataType() != DataType.FLOAT32
        || !Device.Type.CPU.equals(pt.getDevice().getDeviceType())) {
      return 0;
    }
    long n = pt.getShape().size();
    if (n == 0) {
      return 0;
    }
    MemorySegment seg = MemorySegment.ofBuffer(pt.toByteBuffer(true));
    long h = 1125899906842597L;
    long step = Math.max(1, n / 64);
    for (long i = 0; i < n; i += step) {
      h = 31 * h + seg.getAtIndex(ValueLayout.JAVA_INT_UNALIGNED, i);
    }
    return 31 * h + seg.getAtIndex(ValueLayout.JAVA_INT_UNALIGNED, n - 1);
  }

  private static MxWeight build(MxNDArray weight, String name, long version, MxConfig config) {
    PACK_COUNT.incrementAndGet();
    Shape shape = weight.getShape();
    long fp32Bytes = shape.size() * Float.BYTES;
    if (config.getWeights() == null || config.isExcluded(name)) {
      return new MxWeight(name, version, null, fp32Bytes);
    }
    MxFormat format = config.getWeights();
    MxWeight mx = new MxWeight(name, version, format, fp32Bytes);
    NDArray f32 = weight.getDelegate();
    boolean converted = false;
    if (f32.getDataType() != DataType.FLOAT32 || !f32.getDevice().equals(Device.cpu())) {
      if (!f32.getDataType().isFloating()) {
        throw new IllegalArgumentException(
            "MX weights must be floating point; parameter " + name + " is " + f32.getDataType());
      }
      f32 = f32.toDevice(Device.cpu(), false).toType(DataType.FLOAT32, false);
      converted = f32 != weight.getDelegate();
    }
    MxTensor tensor;
    try {
      ByteBuffer data = f32.toByteBuffer(true);
      tensor = pack(MemorySegment.ofBuffer(data), shape, format, config.getScale());
    } finally {
      if (converted) {
        f32.close();
      }
    }
    try {
      checkFinite(tensor, name);
      LinearKernel kernel = KERNELS.get(weight.getDevice().getDeviceType());
      if (kernel != null) {
        mx.setPrepared(kernel, kernel.prepare(tensor));
        tensor.close();
      } else {
        mx.setTensor(tensor);
      }
      return mx;
    } catch (RuntimeException e) {
      tensor.close();
      mx.close();
      throw e;
    }
  }

  /** Packs FP32 values (native order) in blocks of 32 along the last axis. */
  private static MxTensor pack(MemorySegment f32, Shape shape, MxFormat format, ScaleMode scale) {
    return MxTensor.quantize(f32, shape.getShape(), format, scale, MxFormat.DEFAULT_BLOCK_SIZE);
  }

  /** Rejects a weight whose blocks hold NaN or infinity, naming the parameter and the block. */
  static void checkFinite(MxTensor tensor, String name) {
    MemorySegment scales = tensor.scales();
    long blocks = tensor.blocksPerRow();
    long total = scales.byteSize();
    for (long i = 0; i < total; i++) {
      if ((scales.get(ValueLayout.JAVA_BYTE, i) & 0xFF) == E8M0.NAN) {
        long row = blocks == 0 ? 0 : i / blocks;
        long block = blocks == 0 ? 0 : i % blocks;
        long first = block * tensor.blockSize();
        long last = Math.min(first + tensor.blockSize(), tensor.cols()) - 1;
        throw new IllegalArgumentException(
            "Parameter "
                + name
                + " holds NaN or infinity in row "
                + row
                + ", MX block "
                + block
                + " (columns "
                + first
                + ".."
                + last
                + "); it cannot be quantized to "
                + tensor.format());
      }
    }
  }

  private static NDList kernelLinear(
      LinearKernel kernel, NDArray input, MxWeight mx, NDArray bias, MxConfig config) {
    PtNDArray x = (PtNDArray) MxNDArray.unwrap(input);
    Shape xs = x.getShape();
    long k = xs.get(xs.dimension() - 1);
    long m = k == 0 ? 0 : xs.size() / k;
    long n = mx.prepared().rows();
    long[] outDims = xs.getShape().clone();
    outDims[outDims.length - 1] = n;
    MxNDManager manager =
        input instanceof MxNDArray mxIn ? mxIn.getManager() : MxNDManager.getSystemManager();
    NDArray out = manager.create(new Shape(outDims), DataType.FLOAT32);
    if (m == 0) {
      return new NDList(out);
    }
    // toByteBuffer(true) is a direct view of a contiguous CPU tensor (a copy otherwise).
    ByteBuffer xb = x.toByteBuffer(true);
    ByteBuffer yb = ((MxNDArray) out).getDelegate().toByteBuffer(true);
    ByteBuffer bb = bias == null ? null : MxNDArray.unwrap(bias).toByteBuffer(true);
    kernel.linear(
        MemorySegment.ofBuffer(xb),
        m,
        mx.prepared(),
        bb == null ? null : MemorySegment.ofBuffer(bb),
        MemorySegment.ofBuffer(yb),
        config.getActivations(),
        config.getScale());
    return new NDList(out);
  }

  private static NDList emulatedLinear(
      NDArray input, MxNDArray weight, MxWeight mx, NDArray bias, MxConfig config) {
    NDArray w = mx.emulated();
    if (w == null) {
      synchronized (weight) {
        w = mx.emulated();
        if (w == null) {
          w = dequantize(weight, mx);
          mx.setEmulated(w);
        }
      }
    }
    NDArray x = MxNDArray.unwrap(input);
    NDArray xq = null;
    NDArray wt = null;
    try {
      if (config.getActivations() != null) {
        xq = fakeQuantize(x, config);
      }
      NDArray xin = xq != null ? xq : x;
      if (xin.getDataType() != w.getDataType() || !xin.getDevice().equals(w.getDevice())) {
        wt = w.toDevice(xin.getDevice(), false).toType(xin.getDataType(), false);
      }
      NDList out =
          xin.getNDArrayInternal().linear(xin, wt != null ? wt : w, MxNDArray.unwrap(bias));
      return rewrap(input, weight, out);
    } finally {
      if (xq != null) {
        xq.close();
      }
      if (wt != null && wt != w) {
        wt.close();
      }
    }
  }

  /** Builds the dequantized FP32 weight PyTorch multiplies in emulation. */
  private static NDArray dequantize(MxNDArray weight, MxWeight mx) {
    MxTensor tensor = mx.tensor();
    boolean temporary = false;
    if (tensor == null && mx.prepared() != null && mx.prepared().canDequantize()) {
      // The kernel's packed weight holds the MX values: read them back, FP32 storage untouched.
      PtNDArray out =
          (PtNDArray) weight.getManager().getShadow().create(weight.getShape(), DataType.FLOAT32);
      mx.prepared().dequantizeInto(MemorySegment.ofBuffer(out.toByteBuffer(true)));
      return out.toDevice(weight.getDevice(), false);
    }
    if (tensor == null) {
      // The kernel path holds no MX tensor: repack for emulation (e.g. FP16 input on a CPU kernel).
      NDArray f32 = weight.getDelegate().toType(DataType.FLOAT32, false);
      tensor =
          pack(
              MemorySegment.ofBuffer(f32.toByteBuffer(true)),
              weight.getShape(),
              mx.format(),
              weight.getManager().getConfig().getScale());
      if (f32 != weight.getDelegate()) {
        f32.close();
      }
      temporary = true;
    }
    try {
      PtNDArray out =
          (PtNDArray) weight.getManager().getShadow().create(weight.getShape(), DataType.FLOAT32);
      tensor.dequantizeInto(MemorySegment.ofBuffer(out.toByteBuffer(true)));
      return out.toDevice(weight.getDevice(), false);
    } finally {
      if (temporary) {
        tensor.close();
      }
    }
  }

  /** Quantizes and dequantizes activations per block along the last axis (emulation). */
  private static NDArray fakeQuantize(NDArray x, MxConfig config) {
    NDArray f32 = x.toDevice(Device.cpu(), false).toType(DataType.FLOAT32, true);
    MemorySegment seg = MemorySegment.ofBuffer(f32.toByteBuffer(true));
    try (MxTensor t = pack(seg, f32.getShape(), config.getActivations(), config.getScale())) {
      t.dequantizeInto(seg);
    }
    return f32;
  }

  /**
   * Quantizes and dequantizes a FP32 CPU array in place, blocked along its last axis (MX emulation
   * of a weight that stays in PyTorch).
   *
   * @param array a contiguous FP32 CPU array
   * @param name the parameter name for messages
   * @param config the configuration (format and scale)
   * @return the MX bytes the weight would take packed
   * @throws IllegalArgumentException if the array holds NaN or infinity
   */
  static long quantizeInPlace(NDArray array, String name, MxConfig config) {
    ByteBuffer data = array.toByteBuffer(true);
    MemorySegment seg = MemorySegment.ofBuffer(data);
    try (MxTensor t = pack(seg, array.getShape(), config.getWeights(), config.getScale())) {
      checkFinite(t, name);
      t.dequantizeInto(seg);
      if (!data.isDirect()) {
        array.set(data.rewind());
      }
      return t.byteSize();
    }
  }

  /**
   * Installs an already packed weight (from an MX checkpoint) as the MX form of {@code weight},
   * without quantizing: the caller has written the tensor's dequantized values into {@code weight},
   * so the installed form matches the array's values and version and is not packed again.
   *
   * @param weight the weight array holding the tensor's values
   * @param name the parameter name
   * @param tensor the packed weight, shape equal to the array's; not closed here
   * @param config the configuration
   * @throws IllegalArgumentException if the tensor holds a NaN block (naming the parameter)
   */
  static void install(MxNDArray weight, String name, MxTensor tensor, MxConfig config) {
    checkFinite(tensor, name);
    synchronized (weight) {
      MxWeight mx =
          new MxWeight(
              name, weight.getVersion(), tensor.format(), weight.getShape().size() * Float.BYTES);
      try {
        LinearKernel kernel = KERNELS.get(weight.getDevice().getDeviceType());
        if (kernel != null) {
          mx.setPrepared(kernel, kernel.prepare(tensor));
        } else {
          MxTensor copy =
              MxTensor.allocate(
                  tensor.shape(), tensor.format(), tensor.scaleMode(), tensor.blockSize());
          MemorySegment.copy(tensor.codes(), 0, copy.codes(), 0, tensor.codes().byteSize());
          MemorySegment.copy(tensor.scales(), 0, copy.scales(), 0, tensor.scales().byteSize());
          mx.setTensor(copy);
        }
        mx.setFingerprint(fingerprint(weight));
      } catch (RuntimeException e) {
        mx.close();
        throw e;
      }
      weight.setWeight(mx);
      if (canRelease(weight, mx, config)) {
        weight.releaseFp32();
      }
    }
  }
}
