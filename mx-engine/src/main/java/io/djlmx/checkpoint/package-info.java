/**
 * MX checkpoints of whole models ({@code .mxckpt}, magic {@code DJLMXCK2}): the file format ({@link
 * io.djlmx.checkpoint.ModelCheckpoint}) and the converters that make one from a DJL {@code .params}
 * block model ({@link io.djlmx.checkpoint.ParamsConverter}) or a TorchScript module ({@link
 * io.djlmx.checkpoint.TorchScriptConverter}). The MX engine loads such a checkpoint next to its
 * model instead of quantizing the weights again; see {@code docs/cli.md}.
 */
package io.djlmx.checkpoint;
