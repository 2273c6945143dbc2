package io.djlmx.kernel.cpu;

import io.djlmx.format.E8M0;
import io.djlmx.format.MxFormat;
import io.djlmx.format.MxTensor;
import io.djlmx.kernel.PreparedWeight;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.util.Arrays;

/**
 * An MX weight repacked for {@link CpuLinearKernel}: rows interleaved so that one 16-lane vector
 * holds one element of 16 rows.
 *
 * <p>Layout. Rows are grouped in units of 32 (two sub-tiles of 16 rows, padded with rows the kernel
 * ignores); a unit is stored block by block along {@code k}. Tile {@code (u, b)} holds the 32 rows'
 * 32 codes of block {@code b} and starts at {@code (u * blocksPerRow + b) * tileBytes()}; its two
 * sub-tiles follow each other. Inside a sub-tile, lane {@code j} is row {@code j}:
 *
 * <ul>
 *   <li>8-bit formats: the little-endian int at byte {@code 64 t + 4 j} holds elements {@code 4 t
 *       .. 4 t + 3}, element {@code 4 t + i} in byte {@code i}.
 *   <li>FP4: the little-endian int at byte {@code 64 t + 4 j} holds elements {@code 8 t .. 8 t +
 *       7}, element {@code 8 t + i} in bits {@code [4 i, 4 i + 4)}, canonical codes.
 *   <li>FP6: the 24-bit little-endian group at byte {@code 48 t + 3 j} holds elements {@code 4 t ..
 *       4 t + 3}, element {@code 4 t + i} in bits {@code [6 i, 6 i + 6)}, stored as {@code
 *       (magnitude << 1) | sign} so that one rotation puts the magnitude low and the sign high.
 * </ul>
 *
 * Scales: 32 bytes per tile (the rows' block scales), each the biased E8M0 byte plus {@link
 * #scaleAdjust()}, so that {@code intBitsToFloat(byte << 23)} is the factor the kernels multiply by
 * (it folds the power of two that bit-built FP8 values and INT8's 1/64 carry). Rows whose factors
 * do not fit a normal float, or that hold NaN/Inf codes or NaN scales, are listed in {@link
 * #exactRows()} and recomputed by the exact path. FP8 tiles holding zero or subnormal codes are
 * flagged in {@link #fixupMask(long)}: bit-building cannot make them. When such codes are few (at
 * most one per 64 elements, as in real weights), they are also listed one by one ({@link
 * #fixEntries()}), so that a kernel may decode every tile the fast way and correct afterwards.
 */
final class CpuPreparedWeight implements PreparedWeight {

  /** Rows per unit: two 16-lane sub-tiles. */
  static final int UNIT_ROWS = 32;

  /** Elements per block. */
  static final int BLOCK = MxFormat.DEFAULT_BLOCK_SIZE;

  /**
   * Extra bytes after the codes so the FP6 kernel's 64-byte loads of 48-byte groups stay inside.
   */
  private static final int TAIL_PAD = 64;

  private final MxFormat format;
  private final long rows;
  private final long cols;
  private final int blocksPerRow;
  private final long units;
  private final int tileBytes;
  private final Arena arena;
  private final MemorySegment codes;
  private final MemorySegment scales;
  private final byte[] fixup;
  private final long[] fixEntries;
  private final int[] fixStart;
  private final float[] fixDelta;
  private final int[] exactRows;
  private final byte[][] exactScales;
  private final float[] decodeTable;
  private volatile boolean closed;

  private CpuPreparedWeight(
      MxFormat format,
      long rows,
      long cols,
      int blocksPerRow,
      Arena arena,
      MemorySegment codes,
      MemorySegment scales,
      byte[] fixup,
      long[] fixEntries,
      int[] fixStart,
      int[] exactRows,
      byte[][] exactScales) {
    this.format = format;
    this.rows = rows;
    this.cols = cols;
    this.blocksPerRow = blocksPerRow;
    this.units = (rows + UNIT_ROWS - 1) / UNIT_ROWS;
    this.tileBytes = tileBytes(format);
    this.arena = arena;
    this.codes = codes;
    this.scales = scales;
    this.fixup = fixup;
    this.fixEntries = fixEntries;
    this.fixStart = fixStart;
    this.fixDelta = fixEntries == null ? null : fixDeltaTable(format);
    this.exactRows = exactRows;
    this.exactScales = exactScales;
    this.decodeTable = format.decodeTable();
  }

  /**
   * Returns the bytes one tile (32 rows, one block) of codes takes.
   *
   * @param f the format
   * @return the tile size
   */
  static int tileBytes(MxFormat f) {
    return UNIT_ROWS * (int) f.packedBytes(BLOCK);
  }

  /**
   * Returns the power of two (as an exponent) folded into the stored scale bytes: the kernels build
   * FP8 values times {@code 2^8} (E4M3) or {@code 2^16} (E5M2), and INT8 codes times {@code 2^24}
   * without the 1/64.
   *
   * @param f the format
   * @return the exponent added to each biased scale byte
   */
  static int scaleAdjust(MxFormat f) {
    switch (f) {
      case MXFP8_E4M3:
        return -8;
      case MXFP8_E5M2:
        return -16;
      case MXINT8:
        return -30; // codes are converted as code * 2^24, and MXINT8 values are code / 64
      default:
        return 0;
    }
  }

  /**
   * Repacks a canonical MX tensor; the tensor is only read.
   *
   * @param t the weight, blocked along its last axis with blocks of 32
   * @param threads the pool the packing may use
   * @return the prepared weight
   */
  static CpuPreparedWeight pack(MxTensor t, KernelThreads threads) {
    MxFormat f = t.format();
    if (t.blockSize() != BLOCK) {
      throw new IllegalArgumentException(
          "CPU kernel needs block size " + BLOCK + ", weight has " + t.blockSize());
    }
    long rows = t.rows();
    long cols = t.cols();
    long bpr = t.blocksPerRow();
    if (rows < 1 || cols < 1) {
      throw new IllegalArgumentException(
          "weight must have at least one row and one column, shape " + Arrays.toString(t.shape()));
    }
    if (bpr > Integer.MAX_VALUE / BLOCK || rows > Integer.MAX_VALUE - UNIT_ROWS) {
      throw new IllegalArgumentException(
          "weight too large for the CPU kernel, shape " + Arrays.toString(t.shape()));
    }
    int kb = (int) bpr;
    long units = (rows + UNIT_ROWS - 1) / UNIT_ROWS;
    int tb = tileBytes(f);
    Arena arena = Arena.ofShared();
    try {
      MemorySegment codes = arena.allocate(units * kb * tb + TAIL_PAD, 64);
      MemorySegment scales = arena.allocate(units * kb * UNIT_ROWS, 64);
      byte[] fixup = new byte[Math.toIntExact(units * kb)];
      boolean[] exact = new boolean[(int) rows];
      MemorySegment src = t.codes();
      MemorySegment srcScales = t.scales();
      long cbpr = t.codeBytesPerRow();
      threads.forRange(
          units,
          (u0, u1) -> {
            for (long u = u0; u < u1; u++) {
              packUnit(f, u, kb, cols, rows, cbpr, src, srcScales, codes, scales, fixup, exact);
            }
          });
      int count = 0;
      for (boolean e : exact) {
        count += e ? 1 : 0;
      }
      int[] exactRows = new int[count];
      byte[][] exactScales = new byte[count][];
      for (int r = 0, i = 0; r < rows; r++) {
        if (exact[r]) {
          exactRows[i] = r;
          exactScales[i] = srcScales.asSlice((long) r * kb, kb).toArray(ValueLayout.JAVA_BYTE);
          i++;
        }
      }
      long[] fixEntries = null;
      int[] fixStart = null;
      if ((f == MxFormat.MXFP8_E4M3 || f == MxFormat.MXFP8_E5M2) && cols < (1 << 24)) {
        // One pass counts per unit, a second writes each unit's entries at its offset.
        int[] perUnit = new int[(int) units + 1];
        threads.forRange(
            units,
            (u0, u1) -> {
              for (long u = u0; u < u1; u++) {
                perUnit[(int) u + 1] = listFixes(f, u, kb, cols, rows, cbpr, src, fixup, null, 0);
              }
            });
        long total = 0;
        for (int u = 1; u <= units; u++) {
          total += perUnit[u];
          perUnit[u] = (int) Math.min(total, Integer.MAX_VALUE);
        }
        if (total <= rows * cols / 64 && total < Integer.MAX_VALUE - 8) {
          long[] entries = new long[(int) total];
          threads.forRange(
              units,
              (u0, u1) -> {
                for (long u = u0; u < u1; u++) {
                  listFixes(f, u, kb, cols, rows, cbpr, src, fixup, entries, perUnit[(int) u]);
                }
              });
          fixEntries = entries;
          fixStart = perUnit;
        }
      }
      return new CpuPreparedWeight(
          f,
          rows,
          cols,
          kb,
          arena,
          codes,
          scales,
          fixup,
          fixEntries,
          fixStart,
          exactRows,
          exactScales);
    } catch (RuntimeException | Error e) {
      arena.close();
      throw e;
    }
  }

  private static void packUnit(
      MxFormat f,
      long u,
      int kb,
      long cols,
      long rows,
      long cbpr,
      MemorySegment src,
      MemorySegment srcScales,
      MemorySegment codes,
      MemorySegment scales,
      byte[] fixup,
      boolean[] exact) {
    int tb = tileBytes(f);
    int adjust = scaleAdjust(f);
    boolean fp8 = f == MxFormat.MXFP8_E4M3 || f == MxFormat.MXFP8_E5M2;
    int expMask = f == MxFormat.MXFP8_E4M3 ? 0x78 : 0x7C;
    // FP8 padding uses the code of 1.0 so that padded tiles keep the fast path (x is 0 there).
    int pad = f == MxFormat.MXFP8_E4M3 ? 0x38 : f == MxFormat.MXFP8_E5M2 ? 0x3C : 0;
    for (int b = 0; b < kb; b++) {
      long tile = u * kb + b;
      long tileOff = tile * tb;
      int needsFix = 0;
      for (int lane = 0; lane < UNIT_ROWS; lane++) {
        long r = u * UNIT_ROWS + lane;
        boolean real = r < rows;
        int scaleByte = 127 - adjust;
        if (real) {
          int biased = srcScales.get(ValueLayout.JAVA_BYTE, r * kb + b) & 0xFF;
          int adjusted = biased + adjust;
          if (biased == E8M0.NAN || adjusted < 1 || adjusted > 254) {
            exact[(int) r] = true;
            adjusted = 127;
          }
          scaleByte = adjusted;
        } else {
          scaleByte = 127;
        }
        scales.set(ValueLayout.JAVA_BYTE, tile * UNIT_ROWS + lane, (byte) scaleByte);
        int sub = lane >> 4;
        int j = lane & 15;
        long subOff = tileOff + (long) sub * (tb / 2);
        for (int v = 0; v < BLOCK; v++) {
          long col = (long) b * BLOCK + v;
          int code;
          if (real && col < cols) {
            code = canonicalCode(f, src, r * cbpr, col);
            if (fp8) {
              int mag = code & 0x7F;
              if (f == MxFormat.MXFP8_E4M3 ? mag == 0x7F : mag >= 0x7C) {
                exact[(int) r] = true; // NaN or infinity
              }
              if ((code & expMask) == 0) {
                needsFix |= 1 << (v >> 2); // the kernels load 4 elements of 16 rows at a time
              }
            }
          } else {
            code = pad;
          }
          putTileCode(f, codes, subOff, j, v, code);
        }
      }
      fixup[(int) tile] = (byte) needsFix;
    }
  }

  /**
   * Lists (when {@code out} is not null) or counts the zero/subnormal FP8 codes of unit {@code u}'s
   * flagged tiles, each as {@code row << 32 | col << 8 | code}, from {@code out[at]} on.
   *
   * @return the number of codes
   */
  private static int listFixes(
      MxFormat f,
      long u,
      int kb,
      long cols,
      long rows,
      long cbpr,
      MemorySegment src,
      byte[] fixup,
      long[] out,
      int at) {
    int expMask = f == MxFormat.MXFP8_E4M3 ? 0x78 : 0x7C;
    int found = 0;
    for (int b = 0; b < kb; b++) {
      if (fixup[(int) (u * kb + b)] == 0) {
        continue;
      }
      for (int lane = 0; lane < UNIT_ROWS; lane++) {
        long r = u * UNIT_ROWS + lane;
        if (r >= rows) {
          break;
        }
        for (int v = 0; v < BLOCK; v++) {
          long col = (long) b * BLOCK + v;
          if (col >= cols) {
            break;
          }
          int code = canonicalCode(f, src, r * cbpr, col);
          if ((code & expMask) == 0) {
            if (out != null) {
              out[at + found] = r << 32 | col << 8 | code;
            }
            found++;
          }
        }
      }
    }
    return found;
  }

  /**
   * Returns, per FP8 code, {@code exact − fast}: the exact value times the fast decode's power of
   * two minus what the fast decode builds from the code bits (zero for normal codes).
   */
  private static float[] fixDeltaTable(MxFormat f) {
    boolean e5m2 = f == MxFormat.MXFP8_E5M2;
    int sra = e5m2 ? 3 : 4;
    int keep = e5m2 ? 0x8FE00000 : 0x87F00000;
    float[] table = f.decodeTable();
    float[] delta = new float[256];
    for (int c = 0; c < 256; c++) {
      float built = Float.intBitsToFloat(((c << 24) >> sra) & keep | 0x40000000);
      float exact = Math.scalb(table[c], -scaleAdjust(f));
      delta[c] = Float.isFinite(exact) ? exact - built : 0f;
    }
    return delta;
  }

  /** Reads element {@code col} of a canonical row starting at {@code rowOff}. */
  static int canonicalCode(MxFormat f, MemorySegment src, long rowOff, long col) {
    switch (f.bits()) {
      case 8:
        return src.get(ValueLayout.JAVA_BYTE, rowOff + col) & 0xFF;
      case 4:
        {
          int by = src.get(ValueLayout.JAVA_BYTE, rowOff + (col >> 1)) & 0xFF;
          return (col & 1) == 0 ? by & 0xF : by >>> 4;
        }
      default:
        {
          long g = rowOff + (col >> 2) * 3;
          int word =
              (src.get(ValueLayout.JAVA_BYTE, g) & 0xFF)
                  | (src.get(ValueLayout.JAVA_BYTE, g + 1) & 0xFF) << 8
                  | (src.get(ValueLayout.JAVA_BYTE, g + 2) & 0xFF) << 16;
          return (word >>> (6 * (int) (col & 3))) & 0x3F;
        }
    }
  }

  private static void putTileCode(
      MxFormat f, MemorySegment codes, long subOff, int j, int v, int code) {
    switch (f.bits()) {
      case 8:
        codes.set(ValueLayout.JAVA_BYTE, subOff + 64L * (v >> 2) + 4L * j + (v & 3), (byte) code);
        break;
      case 4:
        {
          long at = subOff + 64L * (v >> 3) + 4L * j + ((v & 7) >> 1);
          int shift = (v & 1) * 4;
          byte old = codes.get(ValueLayout.JAVA_BYTE, at);
          codes.set(ValueLayout.JAVA_BYTE, at, (byte) (old & ~(0xF << shift) | code << shift));
          break;
        }
      default:
        {
          int stored = ((code & 0x1F) << 1) | (code >>> 5);
          int bit = 6 * (v & 3);
          long group = subOff + 48L * (v >> 2) + 3L * j;
          int word =
              (codes.get(ValueLayout.JAVA_BYTE, group) & 0xFF)
                  | (codes.get(ValueLayout.JAVA_BYTE, group + 1) & 0xFF) << 8
                  | (codes.get(ValueLayout.JAVA_BYTE, group + 2) & 0xFF) << 16;
          word = word & ~(0x3F << bit) | stored << bit;
          codes.set(ValueLayout.JAVA_BYTE, group, (byte) word);
          codes.set(ValueLayout.JAVA_BYTE, group + 1, (byte) (word >>> 8));
          codes.set(ValueLayout.JAVA_BYTE, group + 2, (byte) (word >>> 16));
          break;
        }
    }
  }

  /**
   * Returns the canonical code of one weight element, read back from the repacked layout.
   *
   * @param row the row, {@code < rows()}
   * @param col the column, {@code < blocksPerRow() * 32}
   * @return the element code
   */
  int code(long row, long col) {
    long u = row / UNIT_ROWS;
    int lane = (int) (row % UNIT_ROWS);
    int b = (int) (col / BLOCK);
    int v = (int) (col % BLOCK);
    long subOff = (u * blocksPerRow + b) * tileBytes + (long) (lane >> 4) * (tileBytes / 2);
    int j = lane & 15;
    switch (format.bits()) {
      case 8:
        return codes.get(ValueLayout.JAVA_BYTE, subOff + 64L * (v >> 2) + 4L * j + (v & 3)) & 0xFF;
      case 4:
        {
          int by =
              codes.get(ValueLayout.JAVA_BYTE, subOff + 64L * (v >> 3) + 4L * j + ((v & 7) >> 1));
          return (by >>> ((v & 1) * 4)) & 0xF;
        }
      default:
        {
          long group = subOff + 48L * (v >> 2) + 3L * j;
          int word =
              (codes.get(ValueLayout.JAVA_BYTE, group) & 0xFF)
                  | (codes.get(ValueLayout.JAVA_BYTE, group + 1) & 0xFF) << 8
                  | (codes.get(ValueLayout.JAVA_BYTE, group + 2) & 0xFF) << 16;
          int stored = (word >>> (6 * (v & 3))) & 0x3F;
          return (stored >>> 1) | (stored & 1) << 5;
        }
    }
  }

  /**
   * Returns the exact FP32 value of one weight element of an exact row, block scale applied, as the
   * canonical tensor dequantizes it (NaN for a NaN scale).
   *
   * @param exactIndex the index into {@link #exactRows()}
   * @param col the column
   * @return the value
   */
  float exactValue(int exactIndex, long col) {
    int scale = exactScales[exactIndex][(int) (col / BLOCK)] & 0xFF;
    return decodeTable[code(exactRows[exactIndex], col)] * E8M0.toFloat(scale);
  }

  /**
   * Returns the exact FP32 value of one weight element of a row not in {@link #exactRows()}, from
   * the stored (adjusted) scale.
   *
   * @param row the row
   * @param col the column
   * @return the value
   */
  float value(long row, long col) {
    int b = (int) (col / BLOCK);
    int stored = storedScale(row, b);
    return decodeTable[code(row, col)] * E8M0.toFloat(stored - scaleAdjust(format));
  }

  /** {@inheritDoc} */
  @Override
  public boolean canDequantize() {
    return true;
  }

  /** {@inheritDoc} */
  @Override
  public void dequantizeInto(MemorySegment f32Out) {
    long need = rows * cols * Float.BYTES;
    if (f32Out.byteSize() < need) {
      throw new IllegalArgumentException(
          "FP32 output holds "
              + f32Out.byteSize()
              + " bytes, weight ["
              + rows
              + ", "
              + cols
              + "] needs "
              + need);
    }
    synchronized (this) {
      checkOpen();
      int[] exactIndex = new int[(int) rows];
      Arrays.fill(exactIndex, -1);
      for (int i = 0; i < exactRows.length; i++) {
        exactIndex[exactRows[i]] = i;
      }
      for (long r = 0; r < rows; r++) {
        int e = exactIndex[(int) r];
        long base = r * cols;
        for (long c = 0; c < cols; c++) {
          float v = e >= 0 ? exactValue(e, c) : value(r, c);
          f32Out.setAtIndex(ValueLayout.JAVA_FLOAT_UNALIGNED, base + c, v);
        }
      }
    }
  }

  @Override
  public MxFormat format() {
    return format;
  }

  @Override
  public long rows() {
    return rows;
  }

  @Override
  public long cols() {
    return cols;
  }

  /**
   * Returns the blocks per row, {@code ceil(cols / 32)}.
   *
   * @return blocks per row
   */
  int blocksPerRow() {
    return blocksPerRow;
  }

  /**
   * Returns the number of 32-row units.
   *
   * @return the units
   */
  long units() {
    return units;
  }

  /**
   * Returns the bytes per tile.
   *
   * @return the tile size
   */
  int tileBytes() {
    return tileBytes;
  }

  /**
   * Returns the repacked codes; throws when closed.
   *
   * @return the codes
   */
  MemorySegment codes() {
    checkOpen();
    return codes;
  }

  /**
   * Returns the adjusted scale bytes; throws when closed.
   *
   * @return the scales
   */
  MemorySegment scales() {
    checkOpen();
    return scales;
  }

  /**
   * Returns which groups of 4 columns of a tile hold FP8 codes that bit-building cannot decode
   * (zero or subnormal): bit {@code q} covers elements {@code 4q .. 4q + 3} of all 32 rows.
   *
   * @param tile the tile index {@code u * blocksPerRow + b}
   * @return the bit mask, 0 when the whole tile decodes by bit-building
   */
  int fixupMask(long tile) {
    return fixup[(int) tile] & 0xFF;
  }

  /**
   * Returns the zero/subnormal FP8 codes of the flagged tiles one by one, each {@code row << 32 |
   * col << 8 | code}, ordered by unit; null when there are too many (then only {@link #fixupMask}
   * tells them) or the format is not FP8.
   *
   * @return the entries, not to be modified, or null
   */
  long[] fixEntries() {
    return fixEntries;
  }

  /**
   * Returns where each unit's entries start in {@link #fixEntries()} ({@code units() + 1} values).
   *
   * @return the offsets, not to be modified, or null
   */
  int[] fixStart() {
    return fixStart;
  }

  /**
   * Returns, per FP8 code, the exact value minus the fast decode's (both times the fast decode's
   * power of two); zero for normal codes.
   *
   * @return 256 values, not to be modified, or null
   */
  float[] fixDelta() {
    return fixDelta;
  }

  /**
   * Returns the rows the fast kernels cannot compute exactly (NaN/Inf, extreme scales).
   *
   * @return the row indices, ascending; not to be modified
   */
  int[] exactRows() {
    return exactRows;
  }

  /**
   * Returns the stored (adjusted) scale byte of a block.
   *
   * @param row the row
   * @param block the block
   * @return the adjusted byte as stored
   */
  int storedScale(long row, int block) {
    long u = row / UNIT_ROWS;
    int lane = (int) (row % UNIT_ROWS);
    return scales.get(ValueLayout.JAVA_BYTE, (u * blocksPerRow + block) * UNIT_ROWS + lane) & 0xFF;
  }

  @Override
  public long byteSize() {
    return codes.byteSize()
        + scales.byteSize()
        + fixup.length
        + (fixEntries == null ? 0 : 8L * fixEntries.length + 4L * fixStart.length)
        + 4L * exactRows.length;
  }

  /** Throws when closed. */
  void checkOpen() {
    if (closed) {
      throw new IllegalStateException("PreparedWeight " + this + " is closed");
    }
  }

  @Override
  public void close() {
    synchronized (this) {
      if (closed) {
        return;
      }
      closed = true;
    }
    arena.close();
  }

  @Override
  public String toString() {
    return "CpuPreparedWeight[" + format + ", " + rows + "x" + cols + (closed ? ", closed]" : "]");
  }
}
