/**
 * Device-neutral interfaces for what MX accelerates: a {@link io.djlmx.kernel.LinearKernel}
 * computes {@code y = x·Wᵀ + b} from a weight packed once into a {@link
 * io.djlmx.kernel.PreparedWeight}. Implementations live in sub-packages per device ({@code cpu},
 * {@code cuda}).
 */
package io.djlmx.kernel;
