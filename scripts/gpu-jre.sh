# Sourced by the GPU run scripts from the bundle folder, with B set to it: JAVA, the bundle's Java runtime, and
# mx_fatbin DEST. Bundles carry the runtime as jre.tar.xz (scripts/gpu-bundle.sh: the bundle plus the checkout must
# fit the device's 64 MiB); it is unpacked once under JRE_DIR (default: the bundle folder).
JRE_DIR="${JRE_DIR:-$B}"
JAVA="$B/jre/bin/java"
if [[ ! -x "$JAVA" ]]; then
  JAVA="$JRE_DIR/jre/bin/java"
  if [[ ! -x "$JAVA" && -f "$B/jre.tar.xz" ]]; then
    mkdir -p "$JRE_DIR"
    tar xJf "$B/jre.tar.xz" -C "$JRE_DIR" 2>/dev/null ||
      python3 -c "import tarfile,sys; tarfile.open(sys.argv[1]).extractall(sys.argv[2])" "$B/jre.tar.xz" "$JRE_DIR"
  fi
fi

# mx_fatbin DEST: writes the CUDA fatbin inside the bundle's engine jar to DEST (for cuobjdump); fails without it.
mx_fatbin() {
  python3 -c "import zipfile,sys; open(sys.argv[2],'wb').write(zipfile.ZipFile(sys.argv[1]).read('io/djlmx/kernel/cuda/mx-kernels.fatbin'))" \
    "$B/lib/mx-engine.jar" "$1"
}
