/**
 * The OCP Microscaling (MX) formats in pure Java: element types ({@link io.djlmx.format.MxFormat}),
 * the E8M0 block scale ({@link io.djlmx.format.E8M0}), block quantization along any axis ({@link
 * io.djlmx.format.MxQuantizer}) and the packed off-heap tensor with its serialized form ({@link
 * io.djlmx.format.MxTensor}), and calibrated, error-compensating rounding of linear weights ({@link
 * io.djlmx.format.CalibratedMxQuantizer}). Free of DJL so that it can be used and tested on its
 * own; the layout and file format are described in {@code docs/format.md}.
 */
package io.djlmx.format;
