package io.djlmx.examples.cli;

import java.io.FileNotFoundException;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.NoSuchFileException;
import picocli.CommandLine;
import picocli.CommandLine.IExecutionExceptionHandler;
import picocli.CommandLine.ParseResult;

/**
 * Reports a failed subcommand as one line that says what went wrong and what to do, without a stack
 * trace for errors the user can fix (bad files, bad values); unexpected failures keep their stack
 * trace, since they are bugs to report.
 *
 * <p>Exit codes: 1 for user errors (bad input or files), 2 for bad usage (picocli's own), 3 for
 * unexpected internal errors.
 */
public final class UserErrorHandler implements IExecutionExceptionHandler {

  /** Exit code of a user error: a missing or malformed file, an invalid value. */
  public static final int USER_ERROR = 1;

  /** Exit code of an unexpected failure (a bug). */
  public static final int INTERNAL_ERROR = 3;

  /** {@inheritDoc} */
  @Override
  public int handleExecutionException(Exception ex, CommandLine cl, ParseResult parseResult) {
    String name = cl.getCommandSpec().qualifiedName();
    if (ex instanceof CommandLine.ParameterException pe) {
      throw pe; // picocli prints it with the usage and returns 2
    }
    if (isUserError(ex)) {
      cl.getErr().println(cl.getColorScheme().errorText(name + ": " + describe(ex)));
      cl.getErr().println("Run '" + name + " --help' for the options.");
      cl.getErr().flush();
      return USER_ERROR;
    }
    cl.getErr().println(name + ": unexpected error (a bug; please report it with this trace):");
    ex.printStackTrace(cl.getErr());
    cl.getErr().flush();
    return INTERNAL_ERROR;
  }

  /**
   * Returns whether a failure comes from the user's input rather than from a bug.
   *
   * @param ex the failure
   * @return true for bad files and bad values
   */
  static boolean isUserError(Throwable ex) {
    for (Throwable t = ex; t != null; t = t.getCause()) {
      if (t instanceof IOException
          || t instanceof UncheckedIOException
          || t instanceof IllegalArgumentException
          || t instanceof UserException
          || t instanceof ai.djl.ModelException
          || t.getClass().getName().equals("io.djlmx.format.MxFormatException")) {
        return true;
      }
    }
    return false;
  }

  private static String describe(Throwable ex) {
    Throwable t = ex;
    while ((t.getMessage() == null || t instanceof UncheckedIOException) && t.getCause() != null) {
      t = t.getCause();
    }
    if (t instanceof NoSuchFileException || t instanceof FileNotFoundException) {
      return "file not found: " + t.getMessage();
    }
    return t.getMessage() == null ? t.getClass().getSimpleName() : t.getMessage();
  }
}
