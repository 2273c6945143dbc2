package io.djlmx.zoo.onnx;

import ai.onnx.proto.OnnxMl;
import com.google.protobuf.CodedInputStream;
import java.io.IOException;
import java.io.InputStream;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/** A parsed ONNX model: its graph nodes and its FP32 initializers, read without ONNX Runtime. */
public final class OnnxModelFile {

  /** Models here are ~130 MB; protobuf's default limit is 64 MB. */
  private static final int SIZE_LIMIT = Integer.MAX_VALUE;

  private final String source;
  private final OnnxMl.GraphProto graph;
  private final Map<String, OnnxMl.TensorProto> initializers;

  private OnnxModelFile(String source, OnnxMl.ModelProto model) throws IOException {
    this.source = source;
    if (!model.hasGraph() || model.getGraph().getNodeCount() == 0) {
      throw new IOException("Not an ONNX model (no graph nodes): " + source);
    }
    this.graph = model.getGraph();
    Map<String, OnnxMl.TensorProto> map = new LinkedHashMap<>();
    for (OnnxMl.TensorProto t : graph.getInitializerList()) {
      map.put(t.getName(), t);
    }
    this.initializers = Collections.unmodifiableMap(map);
  }

  /**
   * Reads an ONNX model file.
   *
   * @param file the {@code .onnx} file
   * @return the parsed model
   * @throws IOException naming the file when it is missing, unreadable or not an ONNX model
   */
  public static OnnxModelFile read(Path file) throws IOException {
    if (!Files.isRegularFile(file)) {
      throw new NoSuchFileException(file.toString(), null, "ONNX model file not found");
    }
    try (InputStream in = Files.newInputStream(file)) {
      return read(in, file.toString());
    }
  }

  /**
   * Reads an ONNX model from a stream.
   *
   * @param in the stream, not closed here
   * @param source a name for the stream used in error messages
   * @return the parsed model
   * @throws IOException naming the source when it is not a readable ONNX model
   */
  public static OnnxModelFile read(InputStream in, String source) throws IOException {
    OnnxMl.ModelProto model;
    try {
      CodedInputStream cis = CodedInputStream.newInstance(in);
      cis.setSizeLimit(SIZE_LIMIT);
      model = OnnxMl.ModelProto.parseFrom(cis);
    } catch (IOException | RuntimeException e) {
      throw new IOException("Corrupt or truncated ONNX model: " + source + " (" + e + ")", e);
    }
    return new OnnxModelFile(source, model);
  }

  /**
   * Returns where this model was read from.
   *
   * @return the file name or stream description
   */
  public String source() {
    return source;
  }

  /**
   * Returns the graph's nodes in topological order.
   *
   * @return the nodes
   */
  public List<OnnxMl.NodeProto> nodes() {
    return graph.getNodeList();
  }

  /**
   * Returns whether a value name is an initializer.
   *
   * @param name the value name
   * @return true if the graph holds a constant initializer of this name
   */
  public boolean isInitializer(String name) {
    return initializers.containsKey(name);
  }

  /**
   * Returns the names of all initializers, in file order.
   *
   * @return the names
   */
  public java.util.Set<String> initializerNames() {
    return initializers.keySet();
  }

  /**
   * Reads an FP32 initializer.
   *
   * @param name the initializer's name in the graph
   * @return the tensor, under the same name
   * @throws IOException if it is missing, not FP32, or its data is short
   */
  public NamedTensor floatInitializer(String name) throws IOException {
    OnnxMl.TensorProto t = initializers.get(name);
    if (t == null) {
      throw new IOException("ONNX model " + source + " has no initializer '" + name + "'");
    }
    if (t.getDataType() != OnnxMl.TensorProto.DataType.FLOAT.getNumber()) {
      throw new IOException(
          "Initializer '"
              + name
              + "' in "
              + source
              + " is not FP32 (type "
              + t.getDataType()
              + ")");
    }
    if (t.getDataLocation() == OnnxMl.TensorProto.DataLocation.EXTERNAL) {
      throw new IOException(
          "Initializer '" + name + "' in " + source + " uses external data, not supported");
    }
    long[] shape = t.getDimsList().stream().mapToLong(Long::longValue).toArray();
    long n = 1;
    for (long d : shape) {
      n *= d;
    }
    float[] data;
    if (!t.getRawData().isEmpty()) {
      ByteBuffer bb = t.getRawData().asReadOnlyByteBuffer().order(ByteOrder.LITTLE_ENDIAN);
      if (bb.remaining() != n * Float.BYTES) {
        throw sizeMismatch(name, bb.remaining(), n * Float.BYTES, "bytes");
      }
      data = new float[(int) n];
      bb.asFloatBuffer().get(data);
    } else {
      if (t.getFloatDataCount() != n) {
        throw sizeMismatch(name, t.getFloatDataCount(), n, "values");
      }
      data = new float[(int) n];
      for (int i = 0; i < n; i++) {
        data[i] = t.getFloatData(i);
      }
    }
    return new NamedTensor(name, shape, data);
  }

  private IOException sizeMismatch(String name, long held, long needed, String unit) {
    return new IOException(
        String.format(
            "Initializer '%s' in %s holds %d %s, its shape needs %d",
            name, source, held, unit, needed));
  }

  /**
   * Returns the node producing a value, or null if the value is a graph input or initializer.
   *
   * @param valueName the value name
   * @return the producing node, or null
   */
  public OnnxMl.NodeProto producer(String valueName) {
    for (OnnxMl.NodeProto n : graph.getNodeList()) {
      if (n.getOutputList().contains(valueName)) {
        return n;
      }
    }
    return null;
  }

  /**
   * Returns the nodes that read a value.
   *
   * @param valueName the value name
   * @return the consuming nodes, in graph order
   */
  public List<OnnxMl.NodeProto> consumers(String valueName) {
    List<OnnxMl.NodeProto> list = new java.util.ArrayList<>();
    for (OnnxMl.NodeProto n : graph.getNodeList()) {
      if (n.getInputList().contains(valueName)) {
        list.add(n);
      }
    }
    return list;
  }

  /**
   * Returns the scalar held by a {@code Constant} node's output as a double, or null when the value
   * is not produced by a scalar (or one-element) numeric constant.
   *
   * @param valueName the value name
   * @return the constant's value, or null
   */
  public Double scalarConstant(String valueName) {
    OnnxMl.NodeProto n = producer(valueName);
    if (n == null || !n.getOpType().equals("Constant")) {
      return null;
    }
    for (OnnxMl.AttributeProto a : n.getAttributeList()) {
      if (!a.getName().equals("value") || !a.hasT()) {
        continue;
      }
      OnnxMl.TensorProto t = a.getT();
      ByteBuffer raw = t.getRawData().asReadOnlyByteBuffer().order(ByteOrder.LITTLE_ENDIAN);
      int type = t.getDataType();
      if (type == OnnxMl.TensorProto.DataType.FLOAT.getNumber()) {
        if (raw.remaining() == Float.BYTES) {
          return (double) raw.getFloat();
        }
        return t.getFloatDataCount() == 1 ? (double) t.getFloatData(0) : null;
      } else if (type == OnnxMl.TensorProto.DataType.INT64.getNumber()) {
        if (raw.remaining() == Long.BYTES) {
          return (double) raw.getLong();
        }
        return t.getInt64DataCount() == 1 ? (double) t.getInt64Data(0) : null;
      }
    }
    return null;
  }
}
