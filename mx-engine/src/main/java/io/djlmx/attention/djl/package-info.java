/**
 * MX attention for DJL: the array op {@link io.djlmx.attention.djl.MxAttention}, the drop-in block
 * {@link io.djlmx.attention.djl.MxScaledDotProductAttentionBlock} and {@link
 * io.djlmx.attention.djl.AttentionBlockReplacer}, which swaps DJL's attention blocks for it.
 */
package io.djlmx.attention.djl;
