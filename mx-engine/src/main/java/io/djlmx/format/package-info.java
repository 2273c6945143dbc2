/**
 * The OCP Microscaling (MX) formats in pure Java: element types, the E8M0 block scale, quantization
 * and the packed tensor. Free of DJL so that it can be used and tested on its own.
 */
package io.djlmx.format;
