/** The djl-mx model zoo: pretrained models served in MX formats. */
package io.djlmx.zoo;
