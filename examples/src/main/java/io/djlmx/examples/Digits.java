package io.djlmx.examples;

import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStream;
import java.io.InputStreamReader;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;
import java.util.zip.GZIPInputStream;

/**
 * The handwritten-digits data set: 1,797 images of 8×8 pixels (values 0..16) with their digit,
 * bundled from Debian's {@code python3-sklearn} (a copy of the UCI Optical Recognition of
 * Handwritten Digits test set, CC BY 4.0; see {@code scripts/fetch-digits.sh}).
 *
 * @param pixels one row of 64 values in [0, 1] per image
 * @param labels the digit of each image
 */
public record Digits(float[][] pixels, int[] labels) {

  /** The class-path resource holding the data. */
  public static final String RESOURCE = "io/djlmx/examples/digits.csv.gz";

  /** Pixels per image. */
  public static final int PIXELS = 64;

  /**
   * Loads the bundled data set.
   *
   * @return every image, in file order
   * @throws IOException if the resource is missing or a line is malformed
   */
  public static Digits load() throws IOException {
    InputStream raw = Digits.class.getClassLoader().getResourceAsStream(RESOURCE);
    if (raw == null) {
      throw new IOException(RESOURCE + " is not on the class path: run scripts/fetch-digits.sh");
    }
    List<float[]> x = new ArrayList<>();
    List<Integer> y = new ArrayList<>();
    try (BufferedReader in =
        new BufferedReader(
            new InputStreamReader(new GZIPInputStream(raw), StandardCharsets.US_ASCII))) {
      String line;
      while ((line = in.readLine()) != null) {
        String[] f = line.split(",");
        if (f.length != PIXELS + 1) {
          throw new IOException(
              RESOURCE + " line " + (x.size() + 1) + ": expected 65 values, got " + f.length);
        }
        float[] p = new float[PIXELS];
        for (int i = 0; i < PIXELS; i++) {
          p[i] = Float.parseFloat(f[i]) / 16f;
        }
        x.add(p);
        y.add(Integer.parseInt(f[PIXELS].trim()));
      }
    }
    return new Digits(x.toArray(float[][]::new), y.stream().mapToInt(Integer::intValue).toArray());
  }

  /**
   * Returns the number of images.
   *
   * @return the size
   */
  public int size() {
    return labels.length;
  }

  /**
   * Returns images {@code [from, to)}.
   *
   * @param from the first image
   * @param to one past the last image
   * @return the slice
   */
  public Digits slice(int from, int to) {
    float[][] p = new float[to - from][];
    int[] l = new int[to - from];
    System.arraycopy(pixels, from, p, 0, p.length);
    System.arraycopy(labels, from, l, 0, l.length);
    return new Digits(p, l);
  }
}
