/** MX checkpoints of the zoo's encoders: packed codes and E8M0 scales, checksummed. */
package io.djlmx.zoo.checkpoint;
