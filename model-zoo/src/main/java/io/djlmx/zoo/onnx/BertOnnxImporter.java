package io.djlmx.zoo.onnx;

import ai.onnx.proto.OnnxMl;
import io.djlmx.zoo.bert.BertConfig;
import io.djlmx.zoo.bert.BertWeights;
import java.io.IOException;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Reads a Hugging Face BERT encoder exported to ONNX and names its weights as the PyTorch module
 * does ({@code encoder.layer.0.attention.self.query.weight}, ...).
 *
 * <p>Exporters store the projection weights as unnamed initializers ({@code onnx::MatMul_787},
 * shape {@code [in, out]}). Each is named here by following the graph: the {@code MatMul} node that
 * reads it feeds an {@code Add} whose other input is the named bias ({@code ...query.bias}); the
 * weight takes the bias's module name. Where no named bias follows, the {@code MatMul} node's own
 * name ({@code /encoder/layer.0/attention/self/query/MatMul}) gives the module path. Weights are
 * transposed to {@code [out, in]}, the layout of {@code ai.djl.nn.core.Linear}. The head count and
 * the layer-norm epsilon are read from the graph's constants too.
 */
public final class BertOnnxImporter {

  private static final Logger logger = LoggerFactory.getLogger(BertOnnxImporter.class);
  private static final Pattern LAYER = Pattern.compile("^encoder\\.layer\\.(\\d+)\\.");
  private static final Pattern NODE_MODULE = Pattern.compile("^/(.+)/MatMul$");

  private BertOnnxImporter() {}

  /**
   * Imports a BERT encoder from an ONNX file.
   *
   * @param onnxFile the model file
   * @return the configuration and named weights
   * @throws IOException if the file is missing, corrupt, or not a BERT encoder
   */
  public static BertWeights importFile(Path onnxFile) throws IOException {
    return importModel(OnnxModelFile.read(onnxFile));
  }

  /**
   * Imports a BERT encoder from a parsed ONNX model.
   *
   * @param model the parsed model
   * @return the configuration and named weights
   * @throws IOException if the graph is not a BERT encoder this importer understands
   */
  public static BertWeights importModel(OnnxModelFile model) throws IOException {
    Map<String, NamedTensor> tensors = new LinkedHashMap<>();
    for (String name : model.initializerNames()) {
      if (name.endsWith(".weight") || name.endsWith(".bias")) {
        tensors.put(name, model.floatInitializer(name));
      }
    }
    int mapped = 0;
    for (OnnxMl.NodeProto node : model.nodes()) {
      if (!node.getOpType().equals("MatMul") || node.getInputCount() != 2) {
        continue;
      }
      String weightInput = node.getInput(1);
      if (!model.isInitializer(weightInput)) {
        continue; // an activation-by-activation product (attention scores)
      }
      String module = moduleOf(model, node);
      if (module == null) {
        throw new IOException(
            "Cannot name the weight '"
                + weightInput
                + "' of MatMul node '"
                + node.getName()
                + "' in "
                + model.source()
                + ": no named bias follows it and the node name has no module path");
      }
      String paramName = module + ".weight";
      NamedTensor w = model.floatInitializer(weightInput).transpose2d(paramName);
      NamedTensor previous = tensors.put(paramName, w);
      if (previous != null) {
        throw new IOException("Two MatMul weights map to " + paramName + " in " + model.source());
      }
      mapped++;
    }
    BertConfig config = configOf(model, tensors);
    checkComplete(config, tensors, model.source());
    logger.debug("Imported {} ({} projection weights mapped by the graph)", model.source(), mapped);
    return new BertWeights(config, tensors);
  }

  /** Returns the module name of a MatMul's weight, from the bias added to its output. */
  private static String moduleOf(OnnxModelFile model, OnnxMl.NodeProto matMul) {
    String out = matMul.getOutput(0);
    for (OnnxMl.NodeProto add : model.consumers(out)) {
      if (!add.getOpType().equals("Add")) {
        continue;
      }
      for (String in : add.getInputList()) {
        if (!in.equals(out) && model.isInitializer(in) && in.endsWith(".bias")) {
          return in.substring(0, in.length() - ".bias".length());
        }
      }
    }
    Matcher m = NODE_MODULE.matcher(matMul.getName());
    return m.matches() ? m.group(1).replace('/', '.') : null;
  }

  private static BertConfig configOf(OnnxModelFile model, Map<String, NamedTensor> t)
      throws IOException {
    NamedTensor word = require(t, "embeddings.word_embeddings.weight", model.source());
    NamedTensor pos = require(t, "embeddings.position_embeddings.weight", model.source());
    NamedTensor type = require(t, "embeddings.token_type_embeddings.weight", model.source());
    NamedTensor inter = require(t, "encoder.layer.0.intermediate.dense.weight", model.source());
    int hidden = (int) word.shape()[1];
    int layers = 0;
    for (String name : t.keySet()) {
      Matcher m = LAYER.matcher(name);
      if (m.find()) {
        layers = Math.max(layers, Integer.parseInt(m.group(1)) + 1);
      }
    }
    int heads = headCount(model, hidden);
    float eps = layerNormEps(model);
    return new BertConfig(
        (int) word.shape()[0],
        hidden,
        layers,
        heads,
        (int) inter.shape()[0],
        (int) pos.shape()[0],
        (int) type.shape()[0],
        eps);
  }

  /**
   * Finds the head count where the query projection is reshaped to [batch, seq, heads, headSize]:
   * the Reshape's target shape is a Concat whose third element is a constant.
   */
  private static int headCount(OnnxModelFile model, int hidden) throws IOException {
    for (OnnxMl.NodeProto add : model.nodes()) {
      if (!add.getOpType().equals("Add")
          || !add.getInputList().contains("encoder.layer.0.attention.self.query.bias")) {
        continue;
      }
      for (OnnxMl.NodeProto reshape : model.consumers(add.getOutput(0))) {
        if (!reshape.getOpType().equals("Reshape") || reshape.getInputCount() < 2) {
          continue;
        }
        OnnxMl.NodeProto concat = model.producer(reshape.getInput(1));
        if (concat != null && concat.getOpType().equals("Concat") && concat.getInputCount() == 4) {
          Double heads = model.scalarConstant(concat.getInput(2));
          Double size = model.scalarConstant(concat.getInput(3));
          if (heads != null && size != null && heads * size == hidden) {
            return heads.intValue();
          }
        }
      }
    }
    throw new IOException("Cannot find the attention head count in the graph of " + model.source());
  }

  /** Reads epsilon from the first LayerNorm: {@code Sqrt(ReduceMean(...) + eps)}. */
  private static float layerNormEps(OnnxModelFile model) throws IOException {
    for (OnnxMl.NodeProto sqrt : model.nodes()) {
      if (!sqrt.getOpType().equals("Sqrt")) {
        continue;
      }
      OnnxMl.NodeProto add = model.producer(sqrt.getInput(0));
      if (add != null && add.getOpType().equals("Add")) {
        for (String in : add.getInputList()) {
          Double eps = model.scalarConstant(in);
          if (eps != null) {
            return eps.floatValue();
          }
        }
      }
    }
    for (OnnxMl.NodeProto n : model.nodes()) {
      if (n.getOpType().equals("LayerNormalization")) {
        for (OnnxMl.AttributeProto a : n.getAttributeList()) {
          if (a.getName().equals("epsilon")) {
            return a.getF();
          }
        }
        return 1e-5f; // the ONNX default
      }
    }
    throw new IOException("Cannot find the layer-norm epsilon in the graph of " + model.source());
  }

  private static void checkComplete(BertConfig c, Map<String, NamedTensor> t, String source)
      throws IOException {
    for (String name : BertWeights.expectedNames(c)) {
      require(t, name, source);
    }
  }

  private static NamedTensor require(Map<String, NamedTensor> t, String name, String source)
      throws IOException {
    NamedTensor v = t.get(name);
    if (v == null) {
      throw new IOException("BERT parameter '" + name + "' not found in " + source);
    }
    return v;
  }

  /**
   * Returns the names of the weights read, for diagnostics.
   *
   * @param weights the imported weights
   * @return the parameter names
   */
  static List<String> names(BertWeights weights) {
    return List.copyOf(weights.tensors().keySet());
  }
}
