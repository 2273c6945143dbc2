/** A BERT encoder built from DJL blocks, with its attention core as a replaceable seam. */
package io.djlmx.zoo.bert;
