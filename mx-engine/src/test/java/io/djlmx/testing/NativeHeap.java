package io.djlmx.testing;

import java.lang.foreign.Arena;
import java.lang.foreign.FunctionDescriptor;
import java.lang.foreign.Linker;
import java.lang.foreign.MemoryLayout;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.SegmentAllocator;
import java.lang.foreign.ValueLayout;
import java.lang.invoke.MethodHandle;
import java.lang.management.ManagementFactory;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import javax.management.JMException;
import javax.management.ObjectName;

/**
 * Reads the process's native heap for leak tests: glibc's live malloc bytes, and what the JVM
 * mallocs for its own bookkeeping (Native Memory Tracking), which swings by megabytes as the JIT
 * compiles and G1 rebuilds its card sets and so hides small leaks in the glibc total.
 */
public final class NativeHeap {

  private static final Pattern NMT_TOTAL = Pattern.compile("Total:[^\\n]*\\n\\s*malloc: (\\d+)KB");
  private static final Pattern NMT_OTHER =
      Pattern.compile("-\\s+Other \\([^\\n]*\\n\\s*\\(malloc=(\\d+)KB");

  private NativeHeap() {}

  /**
   * Returns glibc's {@code mallinfo2()} fields (arena, ordblks, smblks, hblks, hblkhd, usmblks,
   * fsmblks, uordblks, fordblks, keepcost).
   *
   * @return the ten fields, or null where the function is missing (not glibc, or glibc before 2.33)
   */
  public static long[] mallinfo2() {
    Linker linker = Linker.nativeLinker();
    var symbol = linker.defaultLookup().find("mallinfo2");
    if (symbol.isEmpty()) {
      return null;
    }
    MethodHandle handle =
        linker.downcallHandle(
            symbol.get(),
            FunctionDescriptor.of(
                MemoryLayout.structLayout(MemoryLayout.sequenceLayout(10, ValueLayout.JAVA_LONG))));
    try (Arena arena = Arena.ofConfined()) {
      MemorySegment out = (MemorySegment) handle.invokeExact((SegmentAllocator) arena);
      return out.toArray(ValueLayout.JAVA_LONG);
    } catch (Throwable t) {
      throw new IllegalStateException("mallinfo2 failed", t);
    }
  }

  /**
   * Returns the bytes glibc has handed out and not taken back: in use in the arena heaps ({@code
   * uordblks}) plus blocks mapped on their own ({@code hblkhd}).
   *
   * @return live malloc bytes, or -1 where {@code mallinfo2} is missing
   */
  public static long mallocInUseBytes() {
    long[] m = mallinfo2();
    return m == null ? -1 : m[7] + m[4];
  }

  /**
   * Returns the JVM's own malloc total and its {@code Other} category (memory Java code asked for:
   * {@code Unsafe.allocateMemory}, FFM arenas, direct buffers) in kB, from Native Memory Tracking's
   * summary.
   *
   * @return {total malloc, Other malloc}, or null where the JVM runs without {@code
   *     -XX:NativeMemoryTracking=summary}
   */
  public static long[] jvmMallocKb() {
    String summary;
    try {
      summary =
          (String)
              ManagementFactory.getPlatformMBeanServer()
                  .invoke(
                      new ObjectName("com.sun.management:type=DiagnosticCommand"),
                      "vmNativeMemory",
                      new Object[] {new String[] {"summary", "scale=KB"}},
                      new String[] {String[].class.getName()});
    } catch (JMException e) {
      throw new IllegalStateException("cannot read Native Memory Tracking", e);
    }
    Matcher total = NMT_TOTAL.matcher(summary);
    if (!total.find()) {
      return null;
    }
    Matcher other = NMT_OTHER.matcher(summary);
    return new long[] {
      Long.parseLong(total.group(1)), other.find() ? Long.parseLong(other.group(1)) : 0
    };
  }
}
