/** The Fashion-MNIST CNN served by the zoo: its block, labels, normalization and data files. */
package io.djlmx.zoo.cnn;
