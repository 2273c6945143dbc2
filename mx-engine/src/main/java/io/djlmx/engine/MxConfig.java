package io.djlmx.engine;

import io.djlmx.format.MxFormat;
import io.djlmx.format.ScaleMode;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.function.UnaryOperator;
import java.util.regex.Pattern;
import java.util.stream.Collectors;

/**
 * The resolved MX settings of one model.
 *
 * <p>Each key is looked up in {@code Criteria.optOption} first, then in system properties (same
 * key), then in the environment ({@code MX_WEIGHTS}, {@code MX_ACTIVATIONS}, {@code MX_ATTENTION},
 * {@code MX_EXCLUDE}, {@code MX_SCALE}, {@code MX_KEEPFP32}), then falls back to its default. An
 * unknown {@code mx.*} key or an invalid value is an {@link IllegalArgumentException} that lists
 * the valid ones; keys of the form {@code mx.<component>.<name>} (such as the zoo's {@code
 * mx.zoo.cache}) belong to other components and are left to them.
 */
public final class MxConfig {

  /**
   * Weight format: an {@link MxFormat} name, or {@code FP32} (also {@code none}) to keep every
   * weight in FP32; default {@code MXFP6_E2M3}.
   */
  public static final String WEIGHTS = "mx.weights";

  /** Activation format: {@code none} (weight-only, the default) or an {@link MxFormat} name. */
  public static final String ACTIVATIONS = "mx.activations";

  /**
   * Attention: {@code mx} (the default: MX attention where available, P·V in FP32 on the CPU and in
   * FP16 on the GPU), {@code off}, or {@code fp8} (MX attention with SageAttention's FP8 E4M3 P·V:
   * the GPU's fastest kernel, at about 2.5 points more relative L1 on flat attention).
   */
  public static final String ATTENTION = "mx.attention";

  /**
   * Parameter-name patterns kept in FP32, comma separated; {@code *} matches any characters, and a
   * pattern without {@code *} matches names containing it. Default: none.
   */
  public static final String EXCLUDE = "mx.exclude";

  /** Shared-scale rule: {@code floor} (the OCP spec, the default) or {@code rceil}. */
  public static final String SCALE = "mx.scale";

  /**
   * Whether a {@code linear} weight keeps its FP32 copy after it is packed for an MX kernel: {@code
   * false} (the default) frees the FP32 storage, and reading the weight as an ordinary array later
   * gives back its dequantized MX values; {@code true} keeps both (more memory, original values).
   */
  public static final String KEEP_FP32 = "mx.keepFp32";

  /** Every valid key, in the order the log reports them. */
  public static final List<String> KEYS =
      List.of(WEIGHTS, ACTIVATIONS, ATTENTION, EXCLUDE, SCALE, KEEP_FP32);

  private static final Map<String, String> DEFAULTS =
      Map.of(
          WEIGHTS,
          "MXFP6_E2M3",
          ACTIVATIONS,
          "none",
          ATTENTION,
          "mx",
          EXCLUDE,
          "",
          SCALE,
          "floor",
          KEEP_FP32,
          "false");

  private final MxFormat weights;
  private final MxFormat activations;
  private final boolean attention;
  private final boolean attentionPvFp8;
  private final List<String> exclude;
  private final List<Pattern> excludePatterns;
  private final ScaleMode scale;
  private final boolean keepFp32;
  private final Map<String, String> sources;

  private MxConfig(
      MxFormat weights,
      MxFormat activations,
      boolean attention,
      boolean attentionPvFp8,
      List<String> exclude,
      ScaleMode scale,
      boolean keepFp32,
      Map<String, String> sources) {
    this.weights = weights;
    this.activations = activations;
    this.attention = attention;
    this.attentionPvFp8 = attentionPvFp8;
    this.exclude = exclude;
    this.excludePatterns = exclude.stream().map(MxConfig::toPattern).toList();
    this.scale = scale;
    this.keepFp32 = keepFp32;
    this.sources = sources;
  }

  /**
   * Resolves the configuration from model options, system properties, environment and defaults.
   *
   * @param options the model's options (from {@code Criteria.optOption}), may be null; keys not
   *     starting with {@code mx.} are ignored
   * @return the configuration
   * @throws IllegalArgumentException on an unknown {@code mx.*} key or an invalid value
   */
  public static MxConfig resolve(Map<String, ?> options) {
    return resolve(options, System::getProperty, System::getenv);
  }

  static MxConfig resolve(
      Map<String, ?> options, UnaryOperator<String> properties, UnaryOperator<String> env) {
    if (options != null) {
      for (String key : options.keySet()) {
        checkKey(key, "option");
      }
    }
    for (String key : System.getProperties().stringPropertyNames()) {
      if (properties.apply(key) != null) {
        checkKey(key, "system property");
      }
    }
    Map<String, String> values = new LinkedHashMap<>();
    Map<String, String> sources = new LinkedHashMap<>();
    for (String key : KEYS) {
      Object v = options == null ? null : options.get(key);
      String source = "option";
      if (v == null) {
        v = properties.apply(key);
        source = "system property";
      }
      if (v == null) {
        v = env.apply(envName(key));
        source = "environment " + envName(key);
      }
      if (v == null) {
        v = DEFAULTS.get(key);
        source = "default";
      }
      values.put(key, v.toString().trim());
      sources.put(key, source);
    }
    String w = values.get(WEIGHTS);
    MxFormat weights =
        "fp32".equalsIgnoreCase(w) || "none".equalsIgnoreCase(w)
            ? null
            : parseFormat(WEIGHTS, w, false);
    MxFormat activations = parseFormat(ACTIVATIONS, values.get(ACTIVATIONS), true);
    String attentionMode = parseAttention(values.get(ATTENTION));
    List<String> exclude =
        Arrays.stream(values.get(EXCLUDE).split(","))
            .map(String::trim)
            .filter(s -> !s.isEmpty())
            .toList();
    ScaleMode scale;
    try {
      scale = ScaleMode.parse(values.get(SCALE));
    } catch (IllegalArgumentException e) {
      throw invalid(SCALE, values.get(SCALE), "floor, rceil");
    }
    boolean keepFp32 = parseBoolean(KEEP_FP32, values.get(KEEP_FP32));
    return new MxConfig(
        weights,
        activations,
        !"off".equals(attentionMode),
        "fp8".equals(attentionMode),
        exclude,
        scale,
        keepFp32,
        Collections.unmodifiableMap(sources));
  }

  /**
   * Returns the environment variable read for {@code key}: {@code mx.weights} → {@code MX_WEIGHTS}.
   *
   * @param key a configuration key
   * @return the environment variable name
   */
  public static String envName(String key) {
    return key.replace('.', '_').toUpperCase(Locale.ROOT);
  }

  private static void checkKey(String key, String where) {
    // mx.<component>.<name> keys (e.g. mx.zoo.cache) belong to other components.
    if (key.startsWith("mx.") && key.indexOf('.', 3) < 0 && !KEYS.contains(key)) {
      throw new IllegalArgumentException(
          "Unknown MX " + where + " '" + key + "'; valid keys: " + String.join(", ", KEYS));
    }
  }

  private static MxFormat parseFormat(String key, String value, boolean allowNone) {
    if (allowNone && "none".equalsIgnoreCase(value)) {
      return null;
    }
    try {
      return MxFormat.parse(value);
    } catch (IllegalArgumentException e) {
      String valid =
          Arrays.stream(MxFormat.values()).map(Enum::name).collect(Collectors.joining(", "));
      throw invalid(key, value, (allowNone ? "none, " : "FP32, ") + valid);
    }
  }

  /** The attention mode in lower case: mx, off or fp8. */
  private static String parseAttention(String value) {
    for (String mode : new String[] {"mx", "off", "fp8"}) {
      if (mode.equalsIgnoreCase(value)) {
        return mode;
      }
    }
    throw invalid(ATTENTION, value, "mx, off, fp8");
  }

  private static boolean parseBoolean(String key, String value) {
    if ("true".equalsIgnoreCase(value)) {
      return true;
    } else if ("false".equalsIgnoreCase(value)) {
      return false;
    }
    throw invalid(key, value, "true, false");
  }

  private static IllegalArgumentException invalid(String key, String value, String valid) {
    return new IllegalArgumentException(
        "Invalid value '" + value + "' for " + key + "; valid values: " + valid);
  }

  private static Pattern toPattern(String glob) {
    StringBuilder sb = new StringBuilder();
    if (!glob.contains("*")) {
      sb.append(".*").append(Pattern.quote(glob)).append(".*");
    } else {
      for (String part : glob.split("\\*", -1)) {
        if (!sb.isEmpty()) {
          sb.append(".*");
        }
        sb.append(Pattern.quote(part));
      }
    }
    return Pattern.compile(sb.toString());
  }

  /**
   * Returns the format weights of {@code linear} are stored in, or {@code null} when {@code
   * mx.weights=FP32} keeps them in FP32.
   *
   * @return the weight format, or null
   */
  public MxFormat getWeights() {
    return weights;
  }

  /**
   * Returns the format activations are quantized to before {@code linear}, or {@code null} for
   * weight-only quantization.
   *
   * @return the activation format, or null
   */
  public MxFormat getActivations() {
    return activations;
  }

  /**
   * Returns whether MX attention is enabled.
   *
   * @return true for {@code mx.attention=mx} and {@code fp8}
   */
  public boolean isAttentionEnabled() {
    return attention;
  }

  /**
   * Returns whether MX attention computes P·V in FP8 E4M3 (P with a fixed scale, V per channel), as
   * SageAttention does, rather than in FP32 on the CPU and FP16 on the GPU.
   *
   * @return true for {@code mx.attention=fp8}
   */
  public boolean isAttentionPvFp8() {
    return attentionPvFp8;
  }

  /**
   * Returns the parameter-name patterns kept in FP32.
   *
   * @return the patterns as given
   */
  public List<String> getExclude() {
    return exclude;
  }

  /**
   * Returns whether the parameter {@code name} is kept in FP32.
   *
   * @param name a parameter name, may be null
   * @return true if a {@code mx.exclude} pattern matches it
   */
  public boolean isExcluded(String name) {
    if (name == null) {
      return false;
    }
    for (Pattern p : excludePatterns) {
      if (p.matcher(name).matches()) {
        return true;
      }
    }
    return false;
  }

  /**
   * Returns the shared-scale rule.
   *
   * @return the scale mode
   */
  public ScaleMode getScale() {
    return scale;
  }

  /**
   * Returns whether packed {@code linear} weights keep their FP32 copy ({@code mx.keepFp32=true}).
   *
   * @return true to keep FP32 beside MX, false to free it once packed
   */
  public boolean isKeepFp32() {
    return keepFp32;
  }

  /**
   * Returns where each key's value came from: {@code option}, {@code system property}, {@code
   * environment MX_...} or {@code default}.
   *
   * @return key to source
   */
  public Map<String, String> getSources() {
    return sources;
  }

  /** {@inheritDoc} */
  @Override
  public String toString() {
    List<String> parts = new ArrayList<>();
    parts.add(WEIGHTS + "=" + (weights == null ? "FP32" : weights));
    parts.add(ACTIVATIONS + "=" + (activations == null ? "none" : activations));
    parts.add(ATTENTION + "=" + (!attention ? "off" : attentionPvFp8 ? "fp8" : "mx"));
    parts.add(EXCLUDE + "=" + String.join(",", exclude));
    parts.add(SCALE + "=" + scale.name().toLowerCase(Locale.ROOT));
    parts.add(KEEP_FP32 + "=" + keepFp32);
    return String.join(", ", parts);
  }
}
