package io.djlmx.zoo;

import ai.djl.Application;
import ai.djl.repository.MRL;
import ai.djl.repository.Repository;
import ai.djl.repository.zoo.Criteria;
import ai.djl.repository.zoo.ModelLoader;
import ai.djl.util.Progress;
import ai.djl.util.Utils;
import java.io.IOException;
import java.io.InputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;

/**
 * What every loader of this zoo shares: its coordinates ({@code io.djlmx:<artifact>:0.1.0}, one
 * application) and weights that ship in jars on the class path, so nothing is ever downloaded.
 */
public abstract class ClassPathModelLoader implements ModelLoader {

  private final MxModelZoo zoo;
  private final String artifactId;
  private final Application application;
  private final MRL mrl;

  /**
   * Creates the loader.
   *
   * @param zoo the zoo it belongs to
   * @param artifactId the artifact it serves
   * @param application what the model does
   */
  protected ClassPathModelLoader(MxModelZoo zoo, String artifactId, Application application) {
    this.zoo = zoo;
    this.artifactId = artifactId;
    this.application = application;
    this.mrl =
        MRL.model(
            Repository.newInstance("djl-mx zoo", Utils.getCacheDir().resolve("mx-zoo")),
            application,
            MxModelZoo.GROUP_ID,
            artifactId,
            "0.1.0",
            artifactId);
  }

  /** {@inheritDoc} */
  @Override
  public String getGroupId() {
    return zoo.getGroupId();
  }

  /** {@inheritDoc} */
  @Override
  public String getArtifactId() {
    return artifactId;
  }

  /** {@inheritDoc} */
  @Override
  public Application getApplication() {
    return application;
  }

  /** {@inheritDoc} */
  @Override
  public MRL getMrl() {
    return mrl;
  }

  /** {@inheritDoc} */
  @Override
  public <I, O> boolean isDownloaded(Criteria<I, O> criteria) {
    return true;
  }

  /** {@inheritDoc} */
  @Override
  public <I, O> void downloadModel(Criteria<I, O> criteria, Progress progress) {
    // nothing to download: the weights come from jars on the class path
  }

  /**
   * Copies a class-path resource of this artifact into {@code <cacheDir>/<artifactId>/} (the
   * engines load from a directory) and returns that directory.
   *
   * @param cacheDir the zoo's cache directory
   * @param resourceDir the class-path directory of the file, ending in {@code /}
   * @param fileName the file's name
   * @return the directory holding the copy
   * @throws IOException if the resource is missing or the copy fails
   */
  protected Path extractResource(Path cacheDir, String resourceDir, String fileName)
      throws IOException {
    Path dir = cacheDir.resolve(artifactId);
    Path file = dir.resolve(fileName);
    String resource = resourceDir + fileName;
    try (InputStream in =
        ClassPathModelLoader.class.getClassLoader().getResourceAsStream(resource)) {
      if (in == null) {
        throw new IOException("Missing class-path resource " + resource);
      }
      Files.createDirectories(dir);
      // a fresh temp file then an atomic move, so a concurrent or stale copy is never half-read
      Path tmp = Files.createTempFile(dir, fileName, ".tmp");
      try {
        Files.copy(in, tmp, StandardCopyOption.REPLACE_EXISTING);
        Files.move(tmp, file, StandardCopyOption.REPLACE_EXISTING, StandardCopyOption.ATOMIC_MOVE);
      } finally {
        Files.deleteIfExists(tmp);
      }
    }
    return dir;
  }

  /** {@inheritDoc} */
  @Override
  public String toString() {
    return getGroupId() + ":" + getArtifactId();
  }
}
