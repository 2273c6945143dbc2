package io.djlmx.examples.cli;

import io.djlmx.format.MxFormat;
import java.util.Arrays;
import java.util.stream.Collectors;
import picocli.CommandLine.ITypeConverter;
import picocli.CommandLine.TypeConversionException;

/** Parses an MX format name for picocli, listing the valid names when it is not one. */
public final class FormatConverter implements ITypeConverter<MxFormat> {

  /** {@inheritDoc} */
  @Override
  public MxFormat convert(String value) {
    try {
      return MxFormat.parse(value);
    } catch (IllegalArgumentException e) {
      throw new TypeConversionException(
          "unknown MX format '" + value + "'; valid: " + validNames());
    }
  }

  /**
   * Returns the valid format names.
   *
   * @return the names, comma separated
   */
  public static String validNames() {
    return Arrays.stream(MxFormat.values()).map(Enum::name).collect(Collectors.joining(", "));
  }
}
