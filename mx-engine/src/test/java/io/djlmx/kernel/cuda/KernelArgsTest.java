package io.djlmx.kernel.cuda;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import org.junit.jupiter.api.Test;

/** The driver-format parameter block of {@link KernelArgs} (no GPU needed). */
class KernelArgsTest {

  @Test
  void writesPointerArrayThenAlignedValues() {
    byte[] map = new byte[128];
    for (int i = 0; i < map.length; i++) {
      map[i] = (byte) (i * 7);
    }
    KernelArgs a =
        new KernelArgs().i32(-5).i64(1L << 40).f32(1.5f).bytes(map).longs(new long[] {3, 4});
    try (Arena arena = Arena.ofConfined()) {
      MemorySegment s = arena.allocate(8192, 64);
      MemorySegment params = a.build().writeTo(s);
      assertEquals(s.address(), params.address());
      long[] p = new long[5];
      for (int i = 0; i < 5; i++) {
        p[i] = s.getAtIndex(ValueLayout.JAVA_LONG, i) - s.address();
        assertEquals(0, p[i] % (i == 3 ? 64 : 8), "parameter " + i + " aligned");
      }
      assertEquals(-5, s.get(ValueLayout.JAVA_INT, p[0]));
      assertEquals(1L << 40, s.get(ValueLayout.JAVA_LONG, p[1]));
      assertEquals(1.5f, s.get(ValueLayout.JAVA_FLOAT, p[2]));
      for (int i = 0; i < map.length; i++) {
        assertEquals(map[i], s.get(ValueLayout.JAVA_BYTE, p[3] + i));
      }
      assertEquals(3L, s.get(ValueLayout.JAVA_LONG, p[4]));
      assertEquals(4L, s.get(ValueLayout.JAVA_LONG, p[4] + 8));
      MemorySegment small = arena.allocate(64, 64);
      assertThrows(IllegalArgumentException.class, () -> a.writeTo(small));
    }
  }

  @Test
  void rejectsIntOutOfRange() {
    assertThrows(IllegalArgumentException.class, () -> new KernelArgs().i32(1L << 33));
  }
}
