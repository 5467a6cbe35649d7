#!/usr/bin/python3
"""Writes the fixtures of tests/io/test_safetensors.cpp and tests/io/test_npy.cpp, and the seed corpora
of fuzz/, with Python's own json and struct and NumPy (python3-numpy) -- not with tapegrad, and
not with a safetensors package (Debian has none): an independent writer of both formats.

    /usr/bin/python3 tests/golden_io/make_fixtures.py

The C++ tests know the values written here; keep the two in step.
"""
import json
import os
import struct

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
FIXTURES = os.path.join(HERE, "fixtures")
ROOT = os.path.dirname(os.path.dirname(HERE))
CORPUS = os.path.join(ROOT, "fuzz", "corpus")


def safetensors(entries, metadata=None, header_order=None):
    """The bytes of a safetensors file. entries: (name, dtype string, shape, raw bytes), in data
    order; header_order: the names in the order the JSON header lists them."""
    header, data, offset = {}, b"", 0
    if metadata is not None:
        header["__metadata__"] = metadata
    described = {}
    for name, dtype, shape, raw in entries:
        described[name] = {"dtype": dtype, "shape": list(shape), "data_offsets": [offset, offset + len(raw)]}
        data += raw
        offset += len(raw)
    for name in header_order or [e[0] for e in entries]:
        header[name] = described[name]
    text = json.dumps(header).encode("utf-8")
    text += b" " * (-len(text) % 8)  # writers pad the header to a multiple of 8 with spaces
    return struct.pack("<Q", len(text)) + text + data


def le(array, dtype):
    """Little-endian row-major bytes."""
    return np.ascontiguousarray(np.asarray(array, dtype=dtype)).tobytes()


def write(path, data):
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "wb") as f:
        f.write(data)


def npy_bytes(array, version=None):
    import io
    buf = io.BytesIO()
    if version is None:
        np.save(buf, array)
    else:
        np.lib.format.write_array(buf, array, version=version)
    return buf.getvalue()


def main():
    files = {}

    # ---- safetensors -----------------------------------------------------------------------
    weight = (np.arange(6, dtype="<f4") * 0.25 - 0.5).reshape(2, 3)
    bias = np.array([1 / 3, -2.5, 1e300], dtype="<f8")
    ids = np.array([-1, 0, 2**40, -2**62], dtype="<i8")
    mask = np.array([[True, False], [False, True]])
    scalar = np.array(3.5, dtype="<f4")
    empty = np.zeros((0, 4), dtype="<f4")
    # Data order differs from the header's (and from alphabetical): the loader returns data order.
    mixed_entries = [
        ("ids", "I64", ids.shape, le(ids, "<i8")),
        ("weight", "F32", weight.shape, le(weight, "<f4")),
        ("empty", "F32", empty.shape, b""),
        ("mask", "BOOL", mask.shape, le(mask, "?")),
        ("bias", "F64", bias.shape, le(bias, "<f8")),
        ("scalar", "F32", (), le(scalar, "<f4")),
    ]
    files["mixed.safetensors"] = safetensors(
        mixed_entries, metadata={"format": "pt", "note": "written by make_fixtures.py"},
        header_order=["weight", "bias", "scalar", "mask", "ids", "empty"])

    # float16: zeros, normals, the largest finite, the smallest normal, subnormals (smallest,
    # largest, negative), infinities and NaNs (quiet, negative, signalling with a payload).
    f16_bits = np.array([0x0000, 0x8000, 0x3c00, 0xc100, 0x7bff, 0x0400, 0x0001, 0x03ff, 0x8032,
                         0x7c00, 0xfc00, 0x7e00, 0xfe00, 0x7c01, 0x3555], dtype="<u2")
    f16 = f16_bits.view("<f2")
    f16_expected = f16.astype("<f4")  # exact: every float16 is a float32
    # bfloat16 is the top half of a float32: the same kinds of values.
    bf16_bits = np.array([0x0000, 0x8000, 0x3f80, 0xc020, 0x7f7f, 0x0080, 0x0001, 0x007f, 0x8005,
                          0x7f80, 0xff80, 0x7fc0, 0xffc0, 0x7f81, 0x3eab], dtype="<u2")
    bf16_expected = (bf16_bits.astype("<u4") << 16).view("<f4")
    files["half.safetensors"] = safetensors([
        ("f16", "F16", (3, 5), f16_bits.tobytes()),
        ("f16_expected", "F32", (3, 5), le(f16_expected, "<f4")),
        ("bf16", "BF16", (15,), bf16_bits.tobytes()),
        ("bf16_expected", "F32", (15,), le(bf16_expected, "<f4")),
    ], metadata={"format": "pt"})

    files["no_tensors.safetensors"] = safetensors([])
    files["unsupported_i32.safetensors"] = safetensors([("counts", "I32", (2,), le([1, 2], "<i4"))])

    # ---- npy ---------------------------------------------------------------------------------
    f4 = (np.arange(12, dtype="<f4") * 0.5 - 1).reshape(3, 4)
    f8 = np.array([[1 / 3, -2.5, 1e300], [-1e-300, 0.0, 7.0]], dtype="<f8")
    i8 = np.array([-3, 0, 7, 2**40, -2**62], dtype="<i8")
    b1 = np.array([[True, False], [False, True]])
    files["f4_v1.npy"] = npy_bytes(f4)
    files["f8_v1.npy"] = npy_bytes(f8)
    files["i8_v1.npy"] = npy_bytes(i8)
    files["b1_v1.npy"] = npy_bytes(b1)
    files["scalar_f8_v1.npy"] = npy_bytes(np.array(3.25, dtype="<f8"))
    files["empty_f4_v1.npy"] = npy_bytes(np.zeros((0, 3), dtype="<f4"))
    files["f8_v2.npy"] = npy_bytes(f8, version=(2, 0))
    files["i8_v3.npy"] = npy_bytes(i8, version=(3, 0))
    files["fortran_f4.npy"] = npy_bytes(np.asfortranarray(f4))
    files["bigendian_f4.npy"] = npy_bytes(f4.astype(">f4"))
    files["i4.npy"] = npy_bytes(np.array([1, 2, 3], dtype="<i4"))

    for name, data in files.items():
        write(os.path.join(FIXTURES, name), data)

    # ---- fuzz seed corpora: valid files and a few broken ones --------------------------------
    st = {k: v for k, v in files.items() if k.endswith(".safetensors")}
    mixed = files["mixed.safetensors"]
    st["truncated_header.safetensors"] = mixed[:40]
    st["truncated_data.safetensors"] = mixed[:-3]
    st["huge_length.safetensors"] = struct.pack("<Q", 2**63) + b"{}"
    dup = b'{"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4]},"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4]}}'
    st["duplicate.safetensors"] = struct.pack("<Q", len(dup)) + dup + b"\0" * 4
    for name, data in st.items():
        write(os.path.join(CORPUS, "safetensors", name), data)
    npy = {k: v for k, v in files.items() if k.endswith(".npy")}
    npy["truncated_data.npy"] = files["f4_v1.npy"][:-5]
    npy["truncated_header.npy"] = files["f4_v1.npy"][:30]
    for name, data in npy.items():
        write(os.path.join(CORPUS, "npy", name), data)


if __name__ == "__main__":
    main()
