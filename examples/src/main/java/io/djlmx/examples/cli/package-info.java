/** The {@code mx} command line and its subcommands. */
package io.djlmx.examples.cli;
