package io.djlmx.zoo.lm;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.Random;
import java.util.stream.Stream;

/**
 * The English text {@code tiny-lm} learns from: the fortune cookie files of Debian's {@code
 * fortunes} and {@code fortunes-min} packages ({@code /usr/share/games/fortunes}, BSD licence),
 * each fortune one document, split into training and held-out documents by a seeded shuffle.
 *
 * <p>Files are read in name order; {@code *.dat} indexes, {@code *.u8} links and {@code ascii-art}
 * (pictures, not prose) are skipped. A document is the text between lines holding only {@code %},
 * trimmed; empty ones are dropped. The split shuffles the documents with {@code new Random(seed)}
 * and keeps the first {@code heldOutFraction} of them for evaluation. As token streams, documents
 * are UTF-8 bytes each followed by {@link ByteTokenizer#EOS}.
 */
public final class FortuneCorpus {

  /** The directory Debian installs the fortune files into. */
  public static final String DEBIAN_DIR = "/usr/share/games/fortunes";

  /** The seed of the zoo model's split. */
  public static final long SPLIT_SEED = 20261127L;

  /** The share of documents held out in the zoo model's split. */
  public static final double HELD_OUT_FRACTION = 0.05;

  private final List<String> train;
  private final List<String> heldOut;

  private FortuneCorpus(List<String> train, List<String> heldOut) {
    this.train = List.copyOf(train);
    this.heldOut = List.copyOf(heldOut);
  }

  /**
   * Reads the fortune files of a directory and splits them.
   *
   * @param dir the directory of fortune files
   * @param seed the seed of the shuffle
   * @param heldOutFraction the share of documents held out, in (0, 1)
   * @return the split corpus
   * @throws IOException if the directory cannot be read or holds no documents
   */
  public static FortuneCorpus read(Path dir, long seed, double heldOutFraction) throws IOException {
    if (!(heldOutFraction > 0 && heldOutFraction < 1)) {
      throw new IllegalArgumentException(
          "heldOutFraction must be in (0, 1), got " + heldOutFraction);
    }
    if (!Files.isDirectory(dir)) {
      throw new IOException(
          "No fortune directory "
              + dir
              + ": install Debian's fortunes package or run scripts/train-tiny-lm.sh");
    }
    List<Path> files;
    try (Stream<Path> s = Files.list(dir)) {
      files =
          s.filter(Files::isRegularFile)
              .filter(p -> !Files.isSymbolicLink(p))
              .filter(p -> isTextFile(p.getFileName().toString()))
              .sorted()
              .toList();
    }
    List<String> docs = new ArrayList<>();
    for (Path f : files) {
      docs.addAll(parse(Files.readString(f, StandardCharsets.UTF_8)));
    }
    if (docs.isEmpty()) {
      throw new IOException("No fortunes in " + dir);
    }
    Collections.shuffle(docs, new Random(seed));
    int held = Math.max(1, (int) Math.round(docs.size() * heldOutFraction));
    return new FortuneCorpus(docs.subList(held, docs.size()), docs.subList(0, held));
  }

  /**
   * Reads the zoo model's split ({@link #SPLIT_SEED}, {@link #HELD_OUT_FRACTION}).
   *
   * @param dir the directory of fortune files
   * @return the split corpus
   * @throws IOException if the directory cannot be read
   */
  public static FortuneCorpus read(Path dir) throws IOException {
    return read(dir, SPLIT_SEED, HELD_OUT_FRACTION);
  }

  private static boolean isTextFile(String name) {
    return !name.contains(".") && !name.equals("ascii-art");
  }

  /**
   * Splits the text of a fortune file into documents.
   *
   * @param text the file's text
   * @return the trimmed, non-empty documents in file order
   */
  public static List<String> parse(String text) {
    List<String> docs = new ArrayList<>();
    StringBuilder doc = new StringBuilder();
    for (String line : text.split("\n", -1)) {
      if (line.equals("%")) {
        add(docs, doc);
        doc.setLength(0);
      } else {
        doc.append(line).append('\n');
      }
    }
    add(docs, doc);
    return docs;
  }

  private static void add(List<String> docs, StringBuilder doc) {
    String d = doc.toString().strip();
    if (!d.isEmpty()) {
      docs.add(d);
    }
  }

  /**
   * Returns the training documents.
   *
   * @return the documents, in shuffled order
   */
  public List<String> train() {
    return train;
  }

  /**
   * Returns the held-out documents.
   *
   * @return the documents, in shuffled order
   */
  public List<String> heldOut() {
    return heldOut;
  }

  /**
   * Returns documents as one token stream: each document's UTF-8 bytes then {@link
   * ByteTokenizer#EOS}.
   *
   * @param docs the documents
   * @return the token ids
   */
  public static int[] tokens(List<String> docs) {
    ByteTokenizer tokenizer = new ByteTokenizer();
    int n = 0;
    List<int[]> parts = new ArrayList<>(docs.size());
    for (String d : docs) {
      int[] ids = tokenizer.encode(d);
      parts.add(ids);
      n += ids.length + 1;
    }
    int[] out = new int[n];
    int at = 0;
    for (int[] ids : parts) {
      System.arraycopy(ids, 0, out, at, ids.length);
      at += ids.length;
      out[at++] = ByteTokenizer.EOS;
    }
    return out;
  }

  /**
   * Writes documents in the fortune file format (documents separated by lines holding {@code %}),
   * which {@link #parse} reads back.
   *
   * @param docs the documents
   * @param file the file written
   */
  public static void write(List<String> docs, Path file) {
    try {
      Files.writeString(file, String.join("\n%\n", docs) + "\n", StandardCharsets.UTF_8);
    } catch (IOException e) {
      throw new UncheckedIOException("Cannot write " + file, e);
    }
  }
}
