package io.djlmx.kernel.cuda;

import java.util.ArrayList;
import java.util.List;
import jcuda.NativePointerObject;
import jcuda.Pointer;
import jcuda.driver.CUdeviceptr;

/** Builds a kernel's parameter array; each value's Java type must match the CUDA parameter's. */
final class KernelArgs {

  private final List<NativePointerObject> args = new ArrayList<>();

  KernelArgs ptr(DeviceBuffer b) {
    args.add(Pointer.to(b == null ? new CUdeviceptr() : b.pointer()));
    return this;
  }

  /** A device pointer {@code byteOffset} bytes into a buffer. */
  KernelArgs ptrAt(DeviceBuffer b, long byteOffset) {
    args.add(Pointer.to(b.pointer().withByteOffset(byteOffset)));
    return this;
  }

  KernelArgs i32(long v) {
    if (v < Integer.MIN_VALUE || v > Integer.MAX_VALUE) {
      throw new IllegalArgumentException("kernel argument " + v + " does not fit a 32-bit int");
    }
    args.add(Pointer.to(new int[] {(int) v}));
    return this;
  }

  KernelArgs i64(long v) {
    args.add(Pointer.to(new long[] {v}));
    return this;
  }

  /** A struct passed by value, given as its 64-bit words (e.g. the NdGeom of mx_ndarray.cu). */
  KernelArgs longs(long[] v) {
    args.add(Pointer.to(v.clone()));
    return this;
  }

  KernelArgs f32(float v) {
    args.add(Pointer.to(new float[] {v}));
    return this;
  }

  Pointer build() {
    return Pointer.to(args.toArray(new NativePointerObject[0]));
  }
}
