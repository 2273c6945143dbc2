/** End-to-end reliability suite: bad input, corrupt files, concurrency and native resources. */
package io.djlmx.it;
