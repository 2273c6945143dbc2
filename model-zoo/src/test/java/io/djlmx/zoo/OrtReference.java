package io.djlmx.zoo;

import ai.djl.Model;
import ai.djl.inference.Predictor;
import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDList;
import ai.djl.ndarray.NDManager;
import ai.djl.translate.NoopTranslator;
import ai.djl.translate.TranslateException;
import io.djlmx.zoo.translator.SentenceBatchCodec;
import java.io.IOException;
import java.io.InputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.util.List;

/** Runs a zoo encoder's ONNX file on ONNX Runtime: the FP32 reference (and the INT8 peer). */
final class OrtReference implements AutoCloseable {

  private final Model model;
  private final Predictor<NDList, NDList> predictor;
  private final SentenceBatchCodec codec;

  OrtReference(String onnxResource, SentenceBatchCodec codec, Path workDir) throws Exception {
    Path dir = workDir.resolve(onnxResource.replace('.', '_'));
    Files.createDirectories(dir);
    Path file = dir.resolve(onnxResource);
    if (!Files.isRegularFile(file)) {
      try (InputStream in = OrtReference.class.getClassLoader().getResourceAsStream(onnxResource)) {
        if (in == null) {
          throw new IOException("missing resource " + onnxResource);
        }
        Files.copy(in, file, StandardCopyOption.REPLACE_EXISTING);
      }
    }
    this.codec = codec;
    model = Model.newInstance("ort", "OnnxRuntime");
    model.load(file);
    predictor = model.newPredictor(new NoopTranslator());
  }

  float[][] embed(List<String> sentences) throws TranslateException {
    try (NDManager m = NDManager.newBaseManager("OnnxRuntime")) {
      NDList in = codec.encode(m, sentences);
      in.get(0).setName("input_ids");
      in.get(1).setName("token_type_ids");
      in.get(2).setName("attention_mask");
      NDList ordered = new NDList(in.get(0), in.get(2), in.get(1));
      NDList out = predictor.predict(ordered);
      NDArray hidden = out.get(0);
      try (NDManager pt = NDManager.newBaseManager("PyTorch")) {
        NDArray h = pt.create(hidden.toFloatArray(), hidden.getShape());
        NDArray mask = pt.create(in.get(2).toLongArray(), in.get(2).getShape());
        return codec.pool(h, mask);
      }
    }
  }

  @Override
  public void close() {
    predictor.close();
    model.close();
  }
}
