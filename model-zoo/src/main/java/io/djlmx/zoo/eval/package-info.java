/** Accuracy and speed of the zoo's encoders in MX formats against FP32 and ONNX Runtime. */
package io.djlmx.zoo.eval;
