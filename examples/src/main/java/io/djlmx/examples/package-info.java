/**
 * Runnable examples of djl-mx and the main demo: a zoo sentence encoder in MX formats, engine swap
 * in an existing DJL app, Translator pipelines.
 */
package io.djlmx.examples;
