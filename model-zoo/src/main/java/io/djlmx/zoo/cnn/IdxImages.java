package io.djlmx.zoo.cnn;

import ai.djl.modality.cv.Image;
import ai.djl.modality.cv.ImageFactory;
import java.io.BufferedInputStream;
import java.io.BufferedOutputStream;
import java.io.DataInputStream;
import java.io.DataOutputStream;
import java.io.EOFException;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.zip.GZIPInputStream;
import java.util.zip.GZIPOutputStream;

/**
 * Labelled 28×28 grayscale images in the IDX format of (Fashion-)MNIST ({@code *-idx3-ubyte.gz}
 * images, {@code *-idx1-ubyte.gz} labels, gzip-compressed, big-endian header).
 *
 * @param pixels {@code count * 784} unsigned pixel bytes, row-major per image
 * @param labels one class index (0..9) per image
 */
public record IdxImages(byte[] pixels, byte[] labels) {

  private static final int IMAGE_MAGIC = 0x00000803;
  private static final int LABEL_MAGIC = 0x00000801;
  private static final int PIXELS = FashionMnistCnn.SIDE * FashionMnistCnn.SIDE;

  /**
   * Creates the set, checking that pixels and labels agree.
   *
   * @param pixels {@code count * 784} pixel bytes
   * @param labels {@code count} labels
   */
  public IdxImages {
    if (pixels.length != labels.length * PIXELS) {
      throw new IllegalArgumentException(
          pixels.length + " pixel bytes for " + labels.length + " labels (expected 784 each)");
    }
  }

  /**
   * Reads a gzip-compressed IDX image file and its label file.
   *
   * @param images the {@code idx3} file
   * @param labels the {@code idx1} file
   * @return the images
   * @throws IOException if a file is missing, truncated or not IDX
   */
  public static IdxImages read(Path images, Path labels) throws IOException {
    try (InputStream i = Files.newInputStream(images);
        InputStream l = Files.newInputStream(labels)) {
      return read(i, l, images + " / " + labels);
    }
  }

  /**
   * Reads gzip-compressed IDX images and labels from streams.
   *
   * @param images the {@code idx3} stream
   * @param labels the {@code idx1} stream
   * @param name names the source in error messages
   * @return the images
   * @throws IOException if a stream is truncated or not IDX
   */
  public static IdxImages read(InputStream images, InputStream labels, String name)
      throws IOException {
    DataInputStream in = new DataInputStream(new GZIPInputStream(new BufferedInputStream(images)));
    DataInputStream lb = new DataInputStream(new GZIPInputStream(new BufferedInputStream(labels)));
    try {
      int magic = in.readInt();
      int n = in.readInt();
      int rows = in.readInt();
      int cols = in.readInt();
      if (magic != IMAGE_MAGIC || rows != FashionMnistCnn.SIDE || cols != FashionMnistCnn.SIDE) {
        throw new IOException(name + ": not a 28x28 IDX image file (magic " + magic + ")");
      }
      if (lb.readInt() != LABEL_MAGIC || lb.readInt() != n) {
        throw new IOException(name + ": label file is not IDX or its count differs from " + n);
      }
      byte[] px = new byte[n * PIXELS];
      byte[] lab = new byte[n];
      in.readFully(px);
      lb.readFully(lab);
      return new IdxImages(px, lab);
    } catch (EOFException e) {
      throw new IOException(name + ": truncated IDX data", e);
    }
  }

  /**
   * Writes the images and labels as gzip-compressed IDX files.
   *
   * @param imageFile the {@code idx3} file to write
   * @param labelFile the {@code idx1} file to write
   * @throws IOException if writing fails
   */
  public void write(Path imageFile, Path labelFile) throws IOException {
    try (DataOutputStream i = gzip(imageFile);
        DataOutputStream l = gzip(labelFile)) {
      i.writeInt(IMAGE_MAGIC);
      i.writeInt(size());
      i.writeInt(FashionMnistCnn.SIDE);
      i.writeInt(FashionMnistCnn.SIDE);
      i.write(pixels);
      l.writeInt(LABEL_MAGIC);
      l.writeInt(size());
      l.write(labels);
    }
  }

  private static DataOutputStream gzip(Path p) throws IOException {
    OutputStream out = new BufferedOutputStream(Files.newOutputStream(p));
    return new DataOutputStream(new GZIPOutputStream(out));
  }

  /**
   * Returns the number of images.
   *
   * @return the count
   */
  public int size() {
    return labels.length;
  }

  /**
   * Returns images {@code [from, to)}.
   *
   * @param from first image
   * @param to one past the last image
   * @return a copy of the range
   */
  public IdxImages slice(int from, int to) {
    byte[] px = new byte[(to - from) * PIXELS];
    System.arraycopy(pixels, from * PIXELS, px, 0, px.length);
    byte[] lab = new byte[to - from];
    System.arraycopy(labels, from, lab, 0, lab.length);
    return new IdxImages(px, lab);
  }

  /**
   * Returns one image's label.
   *
   * @param i the image
   * @return its class index
   */
  public int label(int i) {
    return labels[i];
  }

  /**
   * Returns one image as a DJL {@link Image} (gray pixels in all three RGB channels).
   *
   * @param i the image
   * @return the image
   */
  public Image image(int i) {
    int[] argb = new int[PIXELS];
    for (int p = 0; p < PIXELS; p++) {
      int v = pixels[i * PIXELS + p] & 0xFF;
      argb[p] = 0xFF000000 | (v << 16) | (v << 8) | v;
    }
    return ImageFactory.getInstance().fromPixels(argb, FashionMnistCnn.SIDE, FashionMnistCnn.SIDE);
  }

  /**
   * Returns all pixels scaled to [0, 1] then normalized as the network expects.
   *
   * @return {@code count * 784} floats
   */
  public float[] normalized() {
    float[] out = new float[pixels.length];
    for (int p = 0; p < out.length; p++) {
      out[p] = ((pixels[p] & 0xFF) / 255f - FashionMnistCnn.MEAN) / FashionMnistCnn.STD;
    }
    return out;
  }
}
