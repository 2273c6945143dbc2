package io.djlmx.zoo;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.Shape;
import io.djlmx.format.MxFormat;
import io.djlmx.zoo.checkpoint.MxWeight;
import io.djlmx.zoo.emulation.MxActivationQuantizer;
import io.djlmx.zoo.onnx.NamedTensor;
import java.util.Random;
import org.junit.jupiter.api.Test;

/** The array-op activation rounding equals the scalar MX codec, element for element. */
class MxActivationQuantizerTest {

  @Test
  void matchesScalarCodecForEveryFormat() {
    Random rnd = new Random(42);
    int rows = 7;
    int cols = 96;
    float[] x = new float[rows * cols];
    for (int i = 0; i < x.length; i++) {
      // wide dynamic range, some blocks tiny, plus exact ties and a zero block
      x[i] = (float) (rnd.nextGaussian() * Math.pow(2, rnd.nextInt(20) - 10));
    }
    for (int i = 0; i < 32; i++) {
      x[cols + i] = 0f;
    }
    x[5] = 0.25f * (float) Math.pow(2, -3);
    try (NDManager m = NDManager.newBaseManager("PyTorch")) {
      for (MxFormat f : MxFormat.values()) {
        if (f == MxFormat.MXFP8_E5M2) {
          continue; // E5M2 infinities are not activation values
        }
        NDArray a = m.create(x, new Shape(rows, cols));
        float[] got = new MxActivationQuantizer(f).apply(a).toFloatArray();
        float[] want =
            MxWeight.quantize(new NamedTensor("x", new long[] {rows, cols}, x), f)
                .dequantize()
                .data();
        assertArrayEquals(want, got, 0f, f.name());
      }
    }
  }

  @Test
  void rejectsWidthNotMultipleOfBlock() {
    try (NDManager m = NDManager.newBaseManager("PyTorch")) {
      NDArray a = m.ones(new Shape(2, 33));
      MxActivationQuantizer q = new MxActivationQuantizer(MxFormat.MXFP8_E4M3);
      assertThrows(IllegalArgumentException.class, () -> q.apply(a));
    }
  }
}
