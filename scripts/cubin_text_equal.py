#!/usr/bin/env python3
"""Says whether named kernels compiled to the same machine code in two cubins.

This machine has nvcc but no cuobjdump or nvdisasm, so a kernel's SASS cannot be read here. It can still be
compared: each kernel's code is the ELF section .text.<kernel>, and equal bytes mean equal SASS. Use it when a
source change must leave a tuned kernel untouched (2026-11-28: an innocent-looking refactor of the 128-key
attention kernel changed its SASS and cost 10-15%).

Build the cubins with: nvcc -O3 -std=c++17 -cubin -gencode arch=compute_90a,code=sm_90a -o a.cubin all.cu
Usage: scripts/cubin_text_equal.py OLD.cubin NEW.cubin KERNEL [KERNEL...]   (exit status 1 if any differs)
"""
import struct
import sys


def sections(path):
    data = open(path, "rb").read()
    if data[:4] != b"\x7fELF" or data[4] != 2:
        sys.exit(f"{path}: not a 64-bit ELF cubin")
    shoff = struct.unpack_from("<Q", data, 0x28)[0]
    entsize, count, names_index = struct.unpack_from("<HHH", data, 0x3A)

    def header(i):
        return struct.unpack_from("<IIQQQQIIQQ", data, shoff + i * entsize)

    names_offset = header(names_index)[4]
    found = {}
    for i in range(count):
        h = header(i)
        start = names_offset + h[0]
        name = data[start:data.index(b"\0", start)].decode()
        found[name] = data[h[4]:h[4] + h[5]]
    return found


def main():
    if len(sys.argv) < 4:
        sys.exit(__doc__)
    old, new = sections(sys.argv[1]), sections(sys.argv[2])
    differ = False
    for kernel in sys.argv[3:]:
        a, b = old.get(".text." + kernel), new.get(".text." + kernel)
        if a is None or b is None:
            print(f"{kernel}: missing in {'the first' if a is None else 'the second'} cubin")
            differ = True
        elif a == b:
            print(f"{kernel}: same code ({len(a)} bytes)")
        else:
            print(f"{kernel}: differs ({len(a)} -> {len(b)} bytes)")
            differ = True
    sys.exit(1 if differ else 0)


if __name__ == "__main__":
    main()
