package io.djlmx.engine;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.djl.Device;
import ai.djl.engine.Engine;
import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDList;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.NDScope;
import ai.djl.ndarray.index.NDIndex;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;
import java.nio.ByteBuffer;
import org.junit.jupiter.api.Test;

class MxNDArrayTest {

  private static NDManager newManager() {
    return Engine.getEngine("MX").newBaseManager();
  }

  private static void assertMx(NDArray a) {
    assertInstanceOf(MxNDArray.class, a);
    assertEquals("MX", a.getManager().getEngine().getEngineName());
  }

  @Test
  void engineIsRegisteredAbovePyTorch() {
    Engine mx = Engine.getEngine("MX");
    assertEquals("MX", mx.getEngineName());
    assertTrue(mx.getRank() > Engine.getEngine("PyTorch").getRank());
    assertTrue(Engine.getAllEngines().contains("MX"));
  }

  @Test
  void factoriesAndRandom() {
    try (NDManager m = newManager()) {
      NDArray[] arrays = {
        m.create(new float[] {1, 2, 3}),
        m.create(new Shape(2, 3)),
        m.zeros(new Shape(2, 2)),
        m.ones(new Shape(3)),
        m.full(new Shape(2), 7f),
        m.arange(0, 10, 2),
        m.eye(3),
        m.linspace(0f, 1f, 5),
        m.randomUniform(0f, 1f, new Shape(4, 4)),
        m.randomNormal(new Shape(8)),
        m.randomInteger(0, 10, new Shape(5), DataType.INT64),
        m.randomPermutation(6),
        m.truncatedNormal(new Shape(3)),
        m.create(new Shape(2, 2), DataType.FLOAT32)
      };
      for (NDArray a : arrays) {
        assertMx(a);
      }
      assertArrayEquals(new int[] {0, 2, 4, 6, 8}, arrays[5].toIntArray());
      assertEquals(7f, arrays[4].getFloat(1));
      NDArray u = arrays[8];
      assertTrue(u.min().getFloat() >= 0f && u.max().getFloat() < 1f);
    }
  }

  @Test
  void opsStayOnMxAndInPlaceReturnsThis() {
    try (NDManager m = newManager()) {
      NDArray a = m.create(new float[] {1, 2, 3, 4}, new Shape(2, 2));
      NDArray b = m.create(new float[] {10, 20, 30, 40}, new Shape(2, 2));
      NDArray sum = a.add(b);
      assertMx(sum);
      assertArrayEquals(new float[] {11, 22, 33, 44}, sum.toFloatArray());
      assertMx(a.matMul(b));
      assertMx(a.transpose().reshape(4).softmax(0));
      NDList split = a.split(2);
      assertMx(split.get(0));
      long before = ((MxNDArray) a).getVersion();
      assertSame(a, a.addi(b));
      assertSame(a, a.muli(2));
      assertTrue(((MxNDArray) a).getVersion() > before);
      assertArrayEquals(new float[] {22, 44, 66, 88}, a.toFloatArray());
      assertSame(a, a.toType(DataType.FLOAT32, false));
      assertSame(a, a.toDevice(a.getDevice(), false));
      NDArray i = a.toType(DataType.INT32, false);
      assertMx(i);
      assertEquals(DataType.INT32, i.getDataType());
      assertMx(a.duplicate());
      assertMx(a.squeeze());
      assertMx(a.swapAxes(0, 1));
      assertTrue(a.gt(0).all().getBoolean());
    }
  }

  @Test
  void indexingGetAndSetWriteThrough() {
    try (NDManager m = newManager()) {
      NDArray a = m.arange(12f).reshape(3, 4);
      NDArray row = a.get(1);
      assertMx(row);
      assertArrayEquals(new float[] {4, 5, 6, 7}, row.toFloatArray());
      assertMx(a.get("1:, ::2"));
      a.set(new NDIndex("0, :"), 100f);
      assertEquals(100f, a.getFloat(0, 3));
      a.set(new NDIndex("2"), m.create(new float[] {-1, -2, -3, -4}));
      assertArrayEquals(new float[] {-1, -2, -3, -4}, a.get(2).toFloatArray());
      a.setScalar(new NDIndex(1, 1), 42f);
      assertEquals(42f, a.getFloat(1, 1));
      NDArray pick = m.create(new long[] {2, 0});
      NDArray picked = a.get(new NDIndex("{}", pick));
      assertMx(picked);
      assertEquals(-1f, picked.getFloat(0, 0));
      NDArray mask = a.gt(50);
      NDArray masked = a.get(mask);
      assertMx(masked);
      assertEquals(4, masked.size());
      NDArray b = a.duplicate();
      b.set(b.lt(0), 0f);
      assertEquals(0f, b.getFloat(2, 0));
    }
  }

  @Test
  void encodeDecodeAndByteBuffer() {
    try (NDManager m = newManager()) {
      NDArray a = m.randomNormal(new Shape(3, 5));
      byte[] bytes = a.encode();
      NDArray back = NDArray.decode(m, bytes);
      assertMx(back);
      assertEquals(a, back);
      ByteBuffer view = a.toByteBuffer(true);
      assertTrue(view.isDirect());
      view.asFloatBuffer().put(0, 123f);
      assertEquals(123f, a.getFloat(0, 0), "toByteBuffer(true) is a view of the tensor");
      NDArray c = m.create(new float[15], new Shape(3, 5));
      c.set(a.toFloatArray());
      assertEquals(a, c);
    }
  }

  @Test
  void attachDetachAndManagers() {
    try (NDManager parent = newManager()) {
      NDArray kept;
      try (NDManager child = parent.newSubManager()) {
        assertInstanceOf(MxNDManager.class, child);
        NDArray a = child.ones(new Shape(2));
        kept = a.add(1);
        kept.attach(parent);
        NDArray temp = child.zeros(new Shape(1));
        assertSame(child, temp.getManager());
      }
      assertFalse(kept.isReleased());
      assertArrayEquals(new float[] {2, 2}, kept.toFloatArray());
      NDArray detached = parent.ones(new Shape(1));
      detached.detach();
      parent.close();
      assertFalse(detached.isReleased());
      assertTrue(kept.isReleased());
      detached.close();
      assertTrue(detached.isReleased());
    }
  }

  @Test
  void tempAttachReturnsToOriginal() {
    try (NDManager a = newManager();
        NDManager b = newManager()) {
      NDArray x = a.ones(new Shape(2));
      x.tempAttach(b);
      assertSame(b, x.getManager());
      b.close();
      assertFalse(x.isReleased());
      assertSame(a, x.getManager());
    }
  }

  @Test
  void deviceMoves() {
    try (NDManager m = newManager()) {
      NDArray a = m.ones(new Shape(2));
      NDArray c = a.toDevice(Device.cpu(), true);
      assertMx(c);
      assertEquals(Device.cpu(), c.getDevice());
    }
  }

  @Test
  void closedManagerIsAClearError() {
    NDManager m = newManager();
    NDArray a = m.ones(new Shape(2));
    m.close();
    assertTrue(a.isReleased());
    IllegalStateException e =
        assertThrows(IllegalStateException.class, () -> m.zeros(new Shape(2)));
    assertTrue(e.getMessage().contains("closed"), e.getMessage());
  }

  @Test
  void ndScopeClosesWrappersAndDelegates() {
    try (NDManager m = newManager()) {
      NDArray kept;
      NDArray dropped;
      try (NDScope scope = new NDScope()) {
        scope.suppressNotUsedWarning();
        NDArray a = m.ones(new Shape(3));
        dropped = a.mul(2);
        kept = a.add(1);
        NDScope.unregister(kept);
      }
      assertTrue(dropped.isReleased());
      assertTrue(((MxNDArray) dropped).getDelegate().isReleased());
      assertFalse(kept.isReleased());
      assertArrayEquals(new float[] {2, 2, 2}, kept.toFloatArray());
    }
  }

  @Test
  void gradientsFlowThroughMxArrays() {
    try (NDManager m = newManager()) {
      NDArray x = m.create(new float[] {1, -2, 3});
      x.setRequiresGradient(true);
      try (ai.djl.training.GradientCollector gc = Engine.getEngine("MX").newGradientCollector()) {
        assertTrue(MxGradientCollector.isRecording());
        NDArray y = x.mul(x).sum();
        assertMx(y);
        gc.backward(y);
      }
      assertFalse(MxGradientCollector.isRecording());
      NDArray grad = x.getGradient();
      assertMx(grad);
      assertArrayEquals(new float[] {2, -4, 6}, grad.toFloatArray());
    }
  }
}
