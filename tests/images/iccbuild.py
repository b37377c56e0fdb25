"""ICC v2 profiles written byte by byte for the tests, and the colour maths to check conversions independently.

Adobe RGB (1998) is built from its published primaries (R 0.64,0.33; G 0.21,0.71; B 0.15,0.06), D65 white
(0.3127, 0.3290) and gamma 563/256, colorants adapted to the D50 connection space with Bradford, as ICC v2
matrix/TRC display profiles are. A small CMYK output profile maps the 16 corners of CMYK space to chosen Lab
colours through a lut16 (mft2) table.
"""

from __future__ import annotations

import struct

import numpy as np

D50 = np.array([0.9642, 1.0, 0.8249])
D65_XY = (0.3127, 0.3290)
ADOBE_PRIMARIES = ((0.64, 0.33), (0.21, 0.71), (0.15, 0.06))
SRGB_PRIMARIES = ((0.64, 0.33), (0.30, 0.60), (0.15, 0.06))
ADOBE_GAMMA = 563 / 256
BRADFORD = np.array([[0.8951, 0.2664, -0.1614], [-0.7502, 1.7135, 0.0367], [0.0389, -0.0685, 1.0296]])


def xy_to_xyz(x: float, y: float) -> np.ndarray:
    return np.array([x / y, 1.0, (1 - x - y) / y])


def rgb_to_xyz_matrix(primaries: tuple[tuple[float, float], ...], white_xy: tuple[float, float]) -> np.ndarray:
    """The 3x3 matrix taking linear RGB to XYZ (white Y = 1) from chromaticities."""
    cols = np.stack([xy_to_xyz(*p) for p in primaries], axis=1)
    scale = np.linalg.solve(cols, xy_to_xyz(*white_xy))
    return cols * scale


def bradford(src_white: np.ndarray, dst_white: np.ndarray) -> np.ndarray:
    cone = np.diag((BRADFORD @ dst_white) / (BRADFORD @ src_white))
    return np.linalg.inv(BRADFORD) @ cone @ BRADFORD


# -- the byte format --

def s15f16(v: float) -> bytes:
    return struct.pack(">i", round(v * 65536))


def xyz_tag(xyz: np.ndarray) -> bytes:
    return b"XYZ " + b"\0" * 4 + b"".join(s15f16(float(v)) for v in xyz)


def text_tag(text: str) -> bytes:
    return b"text" + b"\0" * 4 + text.encode("ascii") + b"\0"


def desc_tag(text: str) -> bytes:
    ascii_ = text.encode("ascii") + b"\0"
    return (b"desc" + b"\0" * 4 + struct.pack(">I", len(ascii_)) + ascii_ + struct.pack(">II", 0, 0)
            + struct.pack(">HB", 0, 0) + b"\0" * 67)


def gamma_tag(gamma: float) -> bytes:
    return b"curv" + b"\0" * 4 + struct.pack(">IH", 1, round(gamma * 256))


def assemble(device_class: bytes, space: bytes, pcs: bytes, tags: list[tuple[bytes, bytes]]) -> bytes:
    """Header + tag table + tag data (each 4-byte aligned); identical tag bodies are written once."""
    table_end = 128 + 4 + 12 * len(tags)
    body = b""
    entries = []
    placed: dict[bytes, int] = {}
    for sig, data in tags:
        if data not in placed:
            placed[data] = table_end + len(body)
            body += data + b"\0" * (-len(data) % 4)
        entries.append(struct.pack(">4sII", sig, placed[data], len(data)))
    size = table_end + len(body)
    header = (struct.pack(">I", size) + b"\0" * 4 + struct.pack(">I", 0x02100000) + device_class + space + pcs
              + struct.pack(">6H", 2026, 1, 1, 0, 0, 0) + b"acsp" + b"\0" * 4 + struct.pack(">I", 0) + b"\0" * 8
              + b"\0" * 8 + struct.pack(">I", 0) + b"".join(s15f16(float(v)) for v in D50) + b"\0" * 4
              + b"\0" * 44)
    assert len(header) == 128
    return header + struct.pack(">I", len(tags)) + b"".join(entries) + body


def adobe_rgb_matrix_d50() -> np.ndarray:
    """Adobe RGB linear -> XYZ, white adapted from D65 to D50 (the profile's rXYZ, gXYZ, bXYZ columns)."""
    m = rgb_to_xyz_matrix(ADOBE_PRIMARIES, D65_XY)
    return bradford(xy_to_xyz(*D65_XY), D50) @ m


def adobe_rgb_profile() -> bytes:
    m = adobe_rgb_matrix_d50()
    curve = gamma_tag(ADOBE_GAMMA)
    return assemble(b"mntr", b"RGB ", b"XYZ ", [
        (b"desc", desc_tag("Adobe RGB (1998) test build")), (b"cprt", text_tag("no copyright, made in a test")),
        (b"wtpt", xyz_tag(D50)), (b"rXYZ", xyz_tag(m[:, 0])), (b"gXYZ", xyz_tag(m[:, 1])),
        (b"bXYZ", xyz_tag(m[:, 2])), (b"rTRC", curve), (b"gTRC", curve), (b"bTRC", curve)])


def cmyk_profile(corner_lab: dict[tuple[int, int, int, int], tuple[float, float, float]]) -> bytes:
    """A CMYK -> Lab output profile: a 2-point lut16 grid whose 16 corners are `corner_lab` (0/1 per ink)."""
    clut = b""
    for c in (0, 1):  # the first input channel varies slowest
        for m in (0, 1):
            for y in (0, 1):
                for k in (0, 1):
                    L, a, b = corner_lab[(c, m, y, k)]  # ICC v2 16-bit Lab: L*652.8, (a+128)*256
                    clut += struct.pack(">3H", round(L * 652.8), round((a + 128) * 256), round((b + 128) * 256))
    identity = b"".join(s15f16(v) for v in (1, 0, 0, 0, 1, 0, 0, 0, 1))
    lut = (b"mft2" + b"\0" * 4 + struct.pack(">BBBB", 4, 3, 2, 0) + identity + struct.pack(">HH", 2, 2)
           + struct.pack(">2H", 0, 65535) * 4 + clut + struct.pack(">2H", 0, 65535) * 3)
    return assemble(b"prtr", b"CMYK", b"Lab ", [
        (b"desc", desc_tag("CMYK test press")), (b"cprt", text_tag("no copyright, made in a test")),
        (b"wtpt", xyz_tag(D50)), (b"A2B0", lut), (b"A2B1", lut)])


# -- colour maths, independent of LittleCMS --

def srgb_decode(v: np.ndarray) -> np.ndarray:
    v = np.asarray(v, np.float64) / 255.0
    return np.where(v <= 0.04045, v / 12.92, ((v + 0.055) / 1.055) ** 2.4)


def srgb_encode(lin: np.ndarray) -> np.ndarray:
    lin = np.clip(lin, 0.0, 1.0)
    v = np.where(lin <= 0.0031308, lin * 12.92, 1.055 * lin ** (1 / 2.4) - 0.055)
    return np.round(v * 255.0)


def srgb_to_adobe(rgb: np.ndarray) -> np.ndarray:
    """8-bit sRGB to 8-bit Adobe RGB (1998) encoding of the same colour (both D65)."""
    to_xyz = rgb_to_xyz_matrix(SRGB_PRIMARIES, D65_XY)
    from_xyz = np.linalg.inv(rgb_to_xyz_matrix(ADOBE_PRIMARIES, D65_XY))
    lin = srgb_decode(rgb) @ (from_xyz @ to_xyz).T
    return np.round(np.clip(lin, 0, 1) ** (1 / ADOBE_GAMMA) * 255.0)


def lab_to_srgb(lab: tuple[float, float, float]) -> np.ndarray:
    """A D50 Lab colour (the ICC connection space) as 8-bit sRGB, Bradford-adapted to D65."""
    L, a, b = lab
    fy = (L + 16) / 116
    f = np.array([fy + a / 500, fy, fy - b / 200])
    t = np.where(f > 6 / 29, f**3, 3 * (6 / 29) ** 2 * (f - 4 / 29))
    xyz50 = t * D50
    xyz65 = bradford(D50, xy_to_xyz(*D65_XY)) @ xyz50
    lin = np.linalg.inv(rgb_to_xyz_matrix(SRGB_PRIMARIES, D65_XY)) @ xyz65
    return srgb_encode(lin)


def ciede2000(lab1: np.ndarray, lab2: np.ndarray) -> np.ndarray:
    """CIEDE2000 colour difference (Sharma, Wu and Dalal 2005), kL = kC = kH = 1, row-wise."""
    L1, a1, b1 = np.asarray(lab1, np.float64).T
    L2, a2, b2 = np.asarray(lab2, np.float64).T
    c_bar = (np.hypot(a1, b1) + np.hypot(a2, b2)) / 2
    g = 0.5 * (1 - np.sqrt(c_bar**7 / (c_bar**7 + 25.0**7)))
    a1p, a2p = (1 + g) * a1, (1 + g) * a2
    c1p, c2p = np.hypot(a1p, b1), np.hypot(a2p, b2)
    h1p = np.degrees(np.arctan2(b1, a1p)) % 360
    h2p = np.degrees(np.arctan2(b2, a2p)) % 360
    dL, dC = L2 - L1, c2p - c1p
    dh = h2p - h1p
    dh = np.where(dh > 180, dh - 360, np.where(dh < -180, dh + 360, dh))
    dh = np.where(c1p * c2p == 0, 0.0, dh)
    dH = 2 * np.sqrt(c1p * c2p) * np.sin(np.radians(dh / 2))
    L_bar, c_bar_p = (L1 + L2) / 2, (c1p + c2p) / 2
    h_sum = h1p + h2p
    h_bar = np.where(np.abs(h1p - h2p) > 180, np.where(h_sum < 360, h_sum + 360, h_sum - 360), h_sum) / 2
    h_bar = np.where(c1p * c2p == 0, h_sum, h_bar)
    t = (1 - 0.17 * np.cos(np.radians(h_bar - 30)) + 0.24 * np.cos(np.radians(2 * h_bar))
         + 0.32 * np.cos(np.radians(3 * h_bar + 6)) - 0.20 * np.cos(np.radians(4 * h_bar - 63)))
    s_l = 1 + 0.015 * (L_bar - 50) ** 2 / np.sqrt(20 + (L_bar - 50) ** 2)
    s_c = 1 + 0.045 * c_bar_p
    s_h = 1 + 0.015 * c_bar_p * t
    r_t = (-2 * np.sqrt(c_bar_p**7 / (c_bar_p**7 + 25.0**7))
           * np.sin(np.radians(60 * np.exp(-(((h_bar - 275) / 25) ** 2)))))
    return np.sqrt((dL / s_l) ** 2 + (dC / s_c) ** 2 + (dH / s_h) ** 2 + r_t * (dC / s_c) * (dH / s_h))
