#!/usr/bin/env python3
"""all-MiniLM-L6-v2 in PyTorch on the same weights and token ids as the MX GPU run.

Reads the checkpoint that MiniLmGpuFixture writes (the zoo's MXFP6_E2M3 weights, MX linear weights
decoded here to the exact values the MX kernels use), runs the BERT encoder with mean pooling in
FP32 and BF16 on the GPU (batch 1 over the first 64 sentences, batch 32 over all, each batch padded
to its longest sentence, embeddings copied to the host), reports sentences/s (median of 5 passes
after one untimed pass) and the cosine of its embeddings against the Java runs' files.

Usage: python3 minilm_torch_ref.py FIXTURE_DIR OUT_DIR [device]
"""
import math
import struct
import sys
import time
import zlib

import numpy as np
import torch
import torch.nn.functional as F


def read_checkpoint(path):
    data = open(path, "rb").read()
    body, stored = data[:-8], struct.unpack(">q", data[-8:])[0]
    if zlib.crc32(body) != (stored & 0xFFFFFFFF):
        raise ValueError(f"{path}: checksum mismatch")
    pos = 0

    def take(n):
        nonlocal pos
        b = body[pos:pos + n]
        if len(b) != n:
            raise ValueError(f"{path}: truncated at {pos}")
        pos += n
        return b

    def i32():
        return struct.unpack(">i", take(4))[0]

    def utf():
        return take(struct.unpack(">H", take(2))[0]).decode("utf-8")

    magic = take(8)
    if magic == b"DJLMXCK1":  # config ints, then the weights' format
        vocab, hidden, layers, heads, inter, maxpos, types, _ = [i32() for _ in range(8)]
        eps = struct.unpack(">f", take(4))[0]
        utf()
    elif magic == b"DJLMXCK2":  # text metadata: the encoder's shape under bert.*
        meta = {}
        for _ in range(i32()):
            k = utf()
            meta[k] = utf()
        vocab, hidden, layers, heads, inter = (int(meta["bert." + k]) for k in (
            "vocabSize", "hiddenSize", "numLayers", "numHeads", "intermediateSize"))
        eps = float(meta["bert.layerNormEps"])
    else:
        raise ValueError(f"{path}: not an MX checkpoint")
    tensors = {}
    for _ in range(i32()):
        name = utf()
        kind = take(1)[0]
        shape = [struct.unpack(">q", take(8))[0] for _ in range(i32())]
        if kind == 0:
            n = int(np.prod(shape))
            tensors[name] = np.frombuffer(take(4 * n), dtype="<f4").reshape(shape).copy()
        else:
            fmt = utf()
            if magic == b"DJLMXCK2":
                utf()  # scale rule: decoding does not depend on it
            block = i32()
            scales = np.frombuffer(take(i32()), dtype=np.uint8)
            codes = np.frombuffer(take(i32()), dtype=np.uint8)
            tensors[name] = decode_mx(fmt, block, shape, scales, codes)
    cfg = dict(vocab=vocab, hidden=hidden, layers=layers, heads=heads, inter=inter, eps=eps)
    return cfg, tensors


def fp_table(ebits, mbits, bias):
    vals = []
    for code in range(1 << (1 + ebits + mbits)):
        s = -1.0 if code >> (ebits + mbits) else 1.0
        e = (code >> mbits) & ((1 << ebits) - 1)
        m = code & ((1 << mbits) - 1)
        v = (m / (1 << mbits)) * 2.0 ** (1 - bias) if e == 0 else (1 + m / (1 << mbits)) * 2.0 ** (e - bias)
        vals.append(s * v)
    return np.array(vals, dtype=np.float64)


def decode_mx(fmt, block, shape, scales, codes):
    rows, cols = shape
    bpr = (cols + block - 1) // block
    padded = bpr * block
    if fmt == "MXFP6_E2M3":
        table = fp_table(2, 3, 1)
        g = codes.reshape(rows, padded // 4, 3).astype(np.uint32)
        word = g[..., 0] | (g[..., 1] << 8) | (g[..., 2] << 16)
        idx = np.stack([(word >> (6 * i)) & 63 for i in range(4)], axis=-1).reshape(rows, padded)
    elif fmt == "MXFP6_E3M2":
        table = fp_table(3, 2, 3)
        g = codes.reshape(rows, padded // 4, 3).astype(np.uint32)
        word = g[..., 0] | (g[..., 1] << 8) | (g[..., 2] << 16)
        idx = np.stack([(word >> (6 * i)) & 63 for i in range(4)], axis=-1).reshape(rows, padded)
    else:
        raise ValueError(f"format {fmt} not handled by this reference")
    vals = table[idx]
    sc = scales.reshape(rows, bpr).astype(np.int64)
    if (sc == 255).any():
        raise ValueError("NaN scale")
    mult = np.ldexp(1.0, sc - 127)
    vals = vals.reshape(rows, bpr, block) * mult[..., None]
    return vals.reshape(rows, padded)[:, :cols].astype(np.float32)


def read_ids(path):
    a = np.fromfile(path, dtype="<i4")
    n, pos, out = a[0], 1, []
    for _ in range(n):
        length = a[pos]
        out.append(a[pos + 1:pos + 1 + length].astype(np.int64))
        pos += 1 + length
    return out


class Encoder:
    def __init__(self, cfg, t, device, dtype):
        self.cfg = cfg
        self.w = {k: torch.from_numpy(v).to(device=device, dtype=dtype) for k, v in t.items()}
        self.device, self.dtype = device, dtype

    def ln(self, x, name):
        return F.layer_norm(x, (x.shape[-1],), self.w[name + ".weight"], self.w[name + ".bias"], self.cfg["eps"])

    def lin(self, x, name):
        return F.linear(x, self.w[name + ".weight"], self.w[name + ".bias"])

    def forward(self, ids, mask):
        w, c = self.w, self.cfg
        b, s = ids.shape
        h, nh = c["hidden"], c["heads"]
        x = w["embeddings.word_embeddings.weight"][ids] + w["embeddings.position_embeddings.weight"][:s][None]
        x = x + w["embeddings.token_type_embeddings.weight"][0]
        x = self.ln(x, "embeddings.LayerNorm")
        keep = mask[:, None, None, :].bool()
        for i in range(c["layers"]):
            p = f"encoder.layer.{i}."
            q, k, v = (self.lin(x, p + "attention.self." + n).view(b, s, nh, h // nh).transpose(1, 2)
                       for n in ("query", "key", "value"))
            if hasattr(F, "scaled_dot_product_attention"):
                a = F.scaled_dot_product_attention(q, k, v, attn_mask=keep)
            else:
                sc = q @ k.transpose(-1, -2) / math.sqrt(h // nh)
                a = torch.softmax(sc.masked_fill(~keep, float("-inf")), -1) @ v
            a = a.transpose(1, 2).reshape(b, s, h)
            x = self.ln(x + self.lin(a, p + "attention.output.dense"), p + "attention.output.LayerNorm")
            f = F.gelu(self.lin(x, p + "intermediate.dense"))
            x = self.ln(x + self.lin(f, p + "output.dense"), p + "output.LayerNorm")
        m = mask[..., None].to(x.dtype)
        e = (x * m).sum(1) / m.sum(1).clamp_min(1e-9)
        return F.normalize(e.float(), dim=-1)


def run(enc, ids, batch):
    out = []
    for st in range(0, len(ids), batch):
        part = ids[st:st + batch]
        L = max(len(e) for e in part)
        tok = np.zeros((len(part), L), dtype=np.int64)
        mask = np.zeros((len(part), L), dtype=np.int64)
        for i, e in enumerate(part):
            tok[i, :len(e)] = e
            mask[i, :len(e)] = 1
        with torch.inference_mode():
            e = enc.forward(torch.from_numpy(tok).to(enc.device), torch.from_numpy(mask).to(enc.device))
        out.append(e.cpu().numpy())
    return np.concatenate(out)


def cosines(a, b):
    a = a / np.linalg.norm(a, axis=1, keepdims=True)
    b = b / np.linalg.norm(b, axis=1, keepdims=True)
    c = (a.astype(np.float64) * b).sum(1)
    return c.min(), c.mean()


def main():
    fix, out = sys.argv[1], sys.argv[2]
    device = sys.argv[3] if len(sys.argv) > 3 else ("cuda" if torch.cuda.is_available() else "cpu")
    cfg, t = read_checkpoint(f"{fix}/minilm-compact.mxckpt")
    ids = read_ids(f"{fix}/minilm-ids.bin")
    name = torch.cuda.get_device_name() if device == "cuda" else "cpu"
    print(f"torch {torch.__version__} on {name}; {len(ids)} sentences, vocab rows {cfg['vocab']}")
    torch.backends.cuda.matmul.allow_tf32 = False
    results = {}
    quick = len(sys.argv) > 4 and sys.argv[4] == "quick"  # one FP32 pass, 32 sentences (CPU check)
    if quick:
        ids = ids[:32]
    for dtype in (torch.float32,) if quick else (torch.float32, torch.bfloat16):
        enc = Encoder(cfg, t, device, dtype)
        for batch in (32,) if quick else (1, 32):
            n = 64 if batch == 1 else len(ids)
            ms = []
            for p in range(2 if quick else 6):  # the first pass is not timed
                if device == "cuda":
                    torch.cuda.synchronize()
                t0 = time.perf_counter()
                emb = run(enc, ids[:n], batch)
                ms.append((time.perf_counter() - t0) * 1e3)
            ms = sorted(ms[1:])
            med = ms[len(ms) // 2]
            dn = str(dtype).replace("torch.", "")
            print(f"RESULT minilm-torch {dn} batch={batch} sentences={n}: median pass {med:.2f} ms "
                  f"(min {ms[0]:.2f}, max {ms[-1]:.2f}) = {n * 1000 / med:.1f} sentences/s")
            if batch == 32:
                results[dn] = emb
                np.asarray(emb, dtype="<f4").tofile(f"{out}/minilm-torch-emb-{dn}.f32")
    ref = {"torch float32": results["float32"]}
    try:
        ref["CPU MX engine"] = np.fromfile(f"{fix}/minilm-cpu-emb.f32", dtype="<f4").reshape(-1, 384)
    except OSError:
        pass
    import glob
    for f in sorted(glob.glob(f"{out}/minilm-gpu-emb-*.f32")):
        ref["Java MX GPU " + f.split("minilm-gpu-emb-")[1][:-4]] = np.fromfile(f, dtype="<f4").reshape(-1, 384)
    for label, e in ref.items():
        for dn, r in results.items():
            if label == "torch " + dn:
                continue
            mn, mean = cosines(e[:len(r)], r)
            print(f"RESULT minilm-agree {label} vs torch {dn}: cosine min {mn:.7f} mean {mean:.7f}")


if __name__ == "__main__":
    main()
