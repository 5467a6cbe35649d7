#!/usr/bin/python3
"""PyTorch's side of the interop tests (tapegrad_interop is the other side).

  interop.py export MODEL DIR   trains the torch MODEL for a few steps and writes its weights to
                                DIR/torch_weights.safetensors, an input and the model's output to
                                DIR/torch_io.safetensors
  interop.py check MODEL DIR    loads the weights tapegrad wrote (DIR/tapegrad_weights.safetensors)
                                into a fresh torch MODEL with load_state_dict(strict=True) and
                                compares its output on tapegrad's input with tapegrad's output

The safetensors files are read and written here with json + numpy (Debian has no safetensors
package): an 8-byte little-endian header length, a JSON header padded with spaces to a multiple
of 8, then the tensors' bytes. Needs Debian's python3-torch: run with /usr/bin/python3.
"""
import json
import struct
import sys

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

DTYPES = {"F32": np.float32, "F64": np.float64, "I64": np.int64, "BOOL": np.bool_}


def read_safetensors(path):
    with open(path, "rb") as f:
        data = f.read()
    (n,) = struct.unpack("<Q", data[:8])
    header = json.loads(data[8:8 + n])
    header.pop("__metadata__", None)
    buf = data[8 + n:]
    out = {}
    for name, info in header.items():
        begin, end = info["data_offsets"]
        arr = np.frombuffer(buf[begin:end], dtype=np.dtype(DTYPES[info["dtype"]]).newbyteorder("<"))
        out[name] = torch.from_numpy(arr.reshape(info["shape"]).copy())
    return out


def write_safetensors(path, tensors):
    names = {np.dtype(v).name: k for k, v in DTYPES.items()}
    header, chunks, offset = {}, [], 0
    for name, t in tensors.items():
        arr = np.ascontiguousarray(t.detach().cpu().numpy())
        raw = arr.astype(arr.dtype.newbyteorder("<"), copy=False).tobytes()
        header[name] = {"dtype": names[arr.dtype.name], "shape": list(arr.shape),
                        "data_offsets": [offset, offset + len(raw)]}
        chunks.append(raw)
        offset += len(raw)
    text = json.dumps(header, separators=(",", ":")).encode()
    text += b" " * (-len(text) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(text)) + text + b"".join(chunks))


class LstmClassifier(nn.Module):
    def __init__(self):
        super().__init__()
        self.emb = nn.Embedding(50, 16)
        self.lstm = nn.LSTM(16, 32, num_layers=2, batch_first=True, bidirectional=True)
        self.out = nn.Linear(64, 3)

    def forward(self, tokens):
        _, (h, _) = self.lstm(self.emb(tokens))
        return self.out(torch.cat([h[2], h[3]], 1))


class TransformerClassifier(nn.Module):
    def __init__(self):
        super().__init__()
        self.emb = nn.Embedding(50, 32)
        layer = nn.TransformerEncoderLayer(32, 4, dim_feedforward=64, dropout=0.1, batch_first=True)
        self.encoder = nn.TransformerEncoder(layer, 2, norm=nn.LayerNorm(32), enable_nested_tensor=False)
        self.head = nn.Linear(32, 5)

    def forward(self, tokens):
        return self.head(self.encoder(self.emb(tokens)).mean(1))


def make(name):
    if name == "mlp":
        model = nn.Sequential(nn.Linear(8, 32), nn.ReLU(), nn.Linear(32, 32), nn.ReLU(), nn.Linear(32, 4))
        return model, torch.randn(16, 8), 4
    if name == "lstm_classifier":
        return LstmClassifier(), torch.randint(0, 50, (6, 9)), 3
    if name == "transformer":
        return TransformerClassifier(), torch.randint(0, 50, (4, 7)), 5
    raise SystemExit(f"interop.py: unknown model {name!r}")


def export(name, folder):
    torch.manual_seed(2024)
    model, x, classes = make(name)
    y = torch.randint(0, classes, (x.shape[0],))
    opt = torch.optim.Adam(model.parameters(), lr=1e-2)
    model.train()
    losses = []
    for _ in range(20):
        opt.zero_grad()
        loss = F.cross_entropy(model(x), y)
        loss.backward()
        opt.step()
        losses.append(loss.item())
    print(f"{name}: trained 20 Adam steps in torch, loss {losses[0]:.4f} -> {losses[-1]:.4f}")
    model.eval()
    with torch.no_grad():
        out = model(x)
    write_safetensors(f"{folder}/torch_weights.safetensors", model.state_dict())
    write_safetensors(f"{folder}/torch_io.safetensors", {"x": x, "out": out})
    return 0


def check(name, folder):
    torch.manual_seed(7)
    model, _, _ = make(name)
    model.load_state_dict(read_safetensors(f"{folder}/tapegrad_weights.safetensors"), strict=True)
    model.eval()
    io = read_safetensors(f"{folder}/tapegrad_io.safetensors")
    with torch.no_grad():
        got = model(io["x"])
    want = io["out"]
    if got.shape != want.shape:
        print(f"{name}: torch output shape {tuple(got.shape)} but tapegrad's is {tuple(want.shape)}")
        return 1
    diff = (got - want).abs().max().item()
    scale = want.abs().max().item()
    print(f"{name}: tapegrad's weights in torch: max |torch - tapegrad| = {diff:.3g} (outputs up to {scale:.3g})")
    return 0 if diff <= 1e-5 + 1e-4 * scale else 1


def main():
    if len(sys.argv) != 4 or sys.argv[1] not in ("export", "check"):
        print(__doc__)
        return 2
    torch.set_num_threads(1)
    return (export if sys.argv[1] == "export" else check)(sys.argv[2], sys.argv[3])


if __name__ == "__main__":
    sys.exit(main())
