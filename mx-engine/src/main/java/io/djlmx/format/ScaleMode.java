package io.djlmx.format;

/** How the shared E8M0 block scale is chosen from the block's largest magnitude. */
public enum ScaleMode {
  /**
   * The OCP MX v1.0 rule: {@code floor(log2(max|V|)) - emax_elem}. The block maximum may then
   * exceed the element's largest normal and saturate.
   */
  FLOOR,
  /**
   * Rounds the scale up so that the block maximum never clips ({@code ceil(log2(max|V| /
   * max_elem))}, as Blackwell's {@code cvt.rp.ue8m0} and TransformerEngine do).
   */
  RCEIL;

  /**
   * Parses a scale mode name, case-insensitively.
   *
   * @param name {@code floor} or {@code rceil}
   * @return the mode
   * @throws IllegalArgumentException naming the valid modes when {@code name} is unknown
   */
  public static ScaleMode parse(String name) {
    if (name != null) {
      for (ScaleMode m : values()) {
        if (m.name().equalsIgnoreCase(name.trim())) {
          return m;
        }
      }
    }
    throw new IllegalArgumentException(
        "Unknown MX scale mode '" + name + "'; valid modes: floor, rceil");
  }
}
