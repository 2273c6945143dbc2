/** Reading pretrained weights out of ONNX model files, mapped to parameter names by the graph. */
package io.djlmx.zoo.onnx;
