package io.djlmx.examples;

import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStream;
import java.io.InputStreamReader;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;

/**
 * A small searchable text corpus: short documents, each with a title.
 *
 * <p>The bundled one ({@link #wordNet()}) holds 1,000 WordNet 3.0 noun definitions ("camp:
 * temporary living quarters specially built by the army for soldiers"), built by {@code
 * scripts/make-demo-corpus.py} from Debian's {@code wordnet-base} package (WordNet 3.0 licence,
 * Princeton University). Searching it is a reverse dictionary: describe a thing, find its word.
 *
 * @param name where the corpus comes from
 * @param entries the documents, in file order
 */
public record Corpus(String name, List<Entry> entries) {

  /** The class-path resource of the bundled corpus. */
  public static final String WORDNET_RESOURCE = "io/djlmx/examples/wordnet-glosses.tsv";

  /**
   * One document of a corpus.
   *
   * @param title a short name (the defined word)
   * @param text the text that is embedded (the definition)
   */
  public record Entry(String title, String text) {}

  /**
   * Creates a corpus.
   *
   * @param name where the corpus comes from
   * @param entries the documents
   */
  public Corpus {
    entries = List.copyOf(entries);
  }

  /**
   * Loads the bundled WordNet definitions.
   *
   * @return the corpus
   * @throws IOException if the resource is missing or unreadable
   */
  public static Corpus wordNet() throws IOException {
    try (InputStream in = Corpus.class.getClassLoader().getResourceAsStream(WORDNET_RESOURCE)) {
      if (in == null) {
        throw new IOException(
            "Corpus resource "
                + WORDNET_RESOURCE
                + " is not on the class path; rebuild with ./mvnw -B -q -DskipTests package");
      }
      return read("WordNet 3.0 noun definitions", in);
    }
  }

  /**
   * Reads a corpus of {@code title<TAB>text} lines; lines starting with {@code #} and blank lines
   * are skipped.
   *
   * @param name where the corpus comes from
   * @param in the UTF-8 text
   * @return the corpus
   * @throws IOException if a line has no tab or the stream fails
   */
  public static Corpus read(String name, InputStream in) throws IOException {
    List<Entry> entries = new ArrayList<>();
    BufferedReader reader = new BufferedReader(new InputStreamReader(in, StandardCharsets.UTF_8));
    String line;
    int lineNo = 0;
    while ((line = reader.readLine()) != null) {
      lineNo++;
      if (line.isBlank() || line.startsWith("#")) {
        continue;
      }
      int tab = line.indexOf('\t');
      if (tab <= 0 || tab == line.length() - 1) {
        throw new IOException(
            name + " line " + lineNo + ": expected 'title<TAB>text', got '" + line + "'");
      }
      entries.add(new Entry(line.substring(0, tab), line.substring(tab + 1)));
    }
    if (entries.isEmpty()) {
      throw new IOException(name + " holds no entries");
    }
    return new Corpus(name, entries);
  }

  /**
   * Returns the first {@code n} documents (all when {@code n} is larger).
   *
   * @param n how many
   * @return a corpus of at most {@code n} entries
   */
  public Corpus head(int n) {
    if (n <= 0) {
      throw new IllegalArgumentException("Corpus size must be positive, got " + n);
    }
    return new Corpus(name, entries.subList(0, Math.min(n, entries.size())));
  }

  /**
   * Returns the texts to embed.
   *
   * @return one text per entry
   */
  public List<String> texts() {
    List<String> texts = new ArrayList<>(entries.size());
    for (Entry e : entries) {
      texts.add(e.text());
    }
    return Collections.unmodifiableList(texts);
  }

  /**
   * Returns the number of documents.
   *
   * @return the size
   */
  public int size() {
    return entries.size();
  }
}
