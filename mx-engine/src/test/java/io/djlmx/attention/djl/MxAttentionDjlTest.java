package io.djlmx.attention.djl;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDList;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;
import ai.djl.nn.Activation;
import ai.djl.nn.Block;
import ai.djl.nn.SequentialBlock;
import ai.djl.nn.transformer.ScaledDotProductAttentionBlock;
import ai.djl.nn.transformer.TransformerEncoderBlock;
import ai.djl.training.ParameterStore;
import io.djlmx.attention.AccuracyMetrics;
import io.djlmx.attention.AttentionConfig;
import io.djlmx.attention.AttentionShape;
import io.djlmx.attention.ReferenceAttention;
import io.djlmx.attention.TensorLayout;
import io.djlmx.attention.TensorView;
import java.io.ByteArrayInputStream;
import java.io.ByteArrayOutputStream;
import java.io.DataInputStream;
import java.io.DataOutputStream;
import java.lang.foreign.MemorySegment;
import org.junit.jupiter.api.Test;

class MxAttentionDjlTest {

  private static final AttentionConfig PV32 = AttentionConfig.builder().optPvFp8(false).build();

  private static double cosine(NDArray a, NDArray b) {
    return AccuracyMetrics.of(a.toFloatArray(), b.toFloatArray()).cosine();
  }

  @Test
  void arrayOpMatchesReferenceAndStaysOnManager() {
    try (NDManager m = NDManager.newBaseManager("PyTorch")) {
      m.getEngine().setRandomSeed(1);
      int b = 2;
      int h = 3;
      int s = 75;
      int d = 64;
      NDArray q = m.randomNormal(new Shape(b, h, s, d));
      NDArray k = m.randomNormal(new Shape(b, h, s, d));
      NDArray v = m.randomNormal(new Shape(b, h, s, d));
      float[] maskData = new float[b * s];
      for (int j = 50; j < s; j++) {
        maskData[j] = -10000f;
      }
      NDArray mask = m.create(maskData, new Shape(b, 1, 1, s));
      NDArray out = MxAttention.attention(q, k, v, mask, false, null, PV32);
      assertSame(m, out.getManager());
      assertEquals(q.getShape(), out.getShape());
      AttentionShape shape = new AttentionShape(b, h, s, s, d);
      double[] ref =
          ReferenceAttention.compute(
              shape,
              view(q, shape, s),
              view(k, shape, s),
              view(v, shape, s),
              TensorView.ofMask(MemorySegment.ofArray(maskData), mask.getShape().getShape(), shape),
              false,
              null);
      AccuracyMetrics metrics = AccuracyMetrics.of(out.toFloatArray(), ref);
      assertTrue(metrics.meetsTargets(), metrics.toString());
      // A transposed (non-contiguous) input goes through DJL's contiguous copy.
      NDArray qt = q.transpose(0, 2, 1, 3);
      NDArray o2 =
          MxAttention.attention(
              qt,
              k.transpose(0, 2, 1, 3),
              v.transpose(0, 2, 1, 3),
              mask,
              false,
              null,
              PV32.toBuilder().optLayout(TensorLayout.BSHD).build());
      assertTrue(cosine(o2.transpose(0, 2, 1, 3), out) > 0.99999);
    }
  }

  private static TensorView view(NDArray a, AttentionShape s, int seq) {
    return TensorView.of(
        MemorySegment.ofArray(a.toFloatArray()),
        TensorLayout.BHSD,
        s.batch(),
        s.heads(),
        seq,
        s.headDim());
  }

  @Test
  void badArraysAreNamed() {
    try (NDManager m = NDManager.newBaseManager("PyTorch")) {
      NDArray q = m.zeros(new Shape(1, 2, 3, 64));
      NDArray k = m.zeros(new Shape(1, 2, 5, 64));
      NDArray wrongType = m.zeros(new Shape(1, 2, 5, 64), DataType.FLOAT64);
      IllegalArgumentException e =
          assertThrows(
              IllegalArgumentException.class,
              () -> MxAttention.attention(q, k, wrongType, null, false, null, null));
      assertTrue(e.getMessage().contains("v"), e.getMessage());
      e =
          assertThrows(
              IllegalArgumentException.class,
              () ->
                  MxAttention.attention(
                      q, m.zeros(new Shape(1, 3, 5, 64)), k, null, false, null, null));
      assertTrue(e.getMessage().contains("differ"), e.getMessage());
      e =
          assertThrows(
              IllegalArgumentException.class,
              () ->
                  MxAttention.attention(
                      q, k, k, m.zeros(new Shape(1, 1, 1, 4)), false, null, null));
      assertTrue(e.getMessage().contains("key length"), e.getMessage());
    }
  }

  @Test
  void replacerSwapsEncoderAndBareAttentionKeepingOutputs() throws Exception {
    try (NDManager m = NDManager.newBaseManager("PyTorch")) {
      m.getEngine().setRandomSeed(2);
      int e = 128;
      int heads = 2;
      int b = 2;
      int s = 21;
      SequentialBlock net = new SequentialBlock();
      net.add(new TransformerEncoderBlock(e, heads, 256, 0.1f, Activation::gelu));
      net.add(
          ScaledDotProductAttentionBlock.builder().setEmbeddingSize(e).setHeadCount(heads).build());
      net.initialize(m, DataType.FLOAT32, new Shape(b, s, e));
      NDArray x = m.randomNormal(new Shape(b, s, e));
      ParameterStore ps = new ParameterStore(m, false);
      NDArray expected = net.forward(ps, new NDList(x), false).singletonOrThrow();

      assertEquals(2, AttentionBlockReplacer.countReplaceable(net));
      Block root = AttentionBlockReplacer.replace(net, PV32);
      assertSame(net, root);
      assertEquals(0, AttentionBlockReplacer.countReplaceable(net));
      assertInstanceOf(MxTransformerEncoderBlock.class, net.getChildren().valueAt(0));
      assertInstanceOf(MxScaledDotProductAttentionBlock.class, net.getChildren().valueAt(1));
      NDArray actual = net.forward(ps, new NDList(x), false).singletonOrThrow();
      assertEquals(expected.getShape(), actual.getShape());
      assertTrue(cosine(expected, actual) > 0.999, "cosine " + cosine(expected, actual));
      // Training falls back to DJL's ops and still runs.
      NDArray trained = net.forward(new ParameterStore(m, false), new NDList(x), true).head();
      assertEquals(expected.getShape(), trained.getShape());
    }
  }

  @Test
  void savedDjlParametersLoadIntoMxBlockAndMasksMatch() throws Exception {
    try (NDManager m = NDManager.newBaseManager("PyTorch")) {
      m.getEngine().setRandomSeed(3);
      int e = 256;
      int heads = 2; // head dim 128
      int b = 2;
      int s = 33;
      ScaledDotProductAttentionBlock djl =
          ScaledDotProductAttentionBlock.builder().setEmbeddingSize(e).setHeadCount(heads).build();
      djl.initialize(m, DataType.FLOAT32, new Shape(b, s, e));
      ByteArrayOutputStream bytes = new ByteArrayOutputStream();
      djl.saveParameters(new DataOutputStream(bytes));

      MxScaledDotProductAttentionBlock mx =
          MxScaledDotProductAttentionBlock.builder()
              .setEmbeddingSize(e)
              .setHeadCount(heads)
              .optConfig(PV32)
              .build();
      mx.initialize(m, DataType.FLOAT32, new Shape(b, s, e));
      mx.loadParameters(m, new DataInputStream(new ByteArrayInputStream(bytes.toByteArray())));

      NDArray x = m.randomNormal(new Shape(b, s, e));
      float[] keep = new float[b * s * s];
      for (int i = 0; i < keep.length; i++) {
        keep[i] = (i % s) < (i / (s * s) == 0 ? 20 : s) ? 1f : 0f; // batch 0 pads 13 keys
      }
      NDArray mask = m.create(keep, new Shape(b, s, s));
      ParameterStore ps = new ParameterStore(m, false);
      NDArray expected = djl.forward(ps, new NDList(x, mask), false).singletonOrThrow();
      NDArray actual = mx.forward(ps, new NDList(x, mask), false).singletonOrThrow();
      assertTrue(cosine(expected, actual) > 0.999, "cosine " + cosine(expected, actual));
      NDArray expected3 = djl.forward(ps, new NDList(x, x, x), false).singletonOrThrow();
      NDArray actual3 = mx.forward(ps, new NDList(x, x, x), false).singletonOrThrow();
      assertTrue(cosine(expected3, actual3) > 0.999);
    }
  }
}
