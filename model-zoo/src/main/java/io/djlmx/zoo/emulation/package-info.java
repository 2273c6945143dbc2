/** MX rounding expressed with array ops, for engines without MX kernels (accuracy measurement). */
package io.djlmx.zoo.emulation;
