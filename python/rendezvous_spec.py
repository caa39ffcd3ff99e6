"""An independent implementation of docs/hash-spec.md (version 1) in Python, standard library only.

Written from the specification text, not from the TypeScript source, so that the test vectors in
test/vectors/hash-spec-v1.json check the spec and not one implementation against itself.

Servers are given as (id, weight) or (id, weight, zone) tuples, or as dicts {"id", "weight", "zone"};
keys are `bytes` (hashed as they are) or `str` (hashed as UTF-8, see `key_bytes`).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Iterable, Mapping, Sequence, Union

SPEC_VERSION = 1

MASK32 = 0xFFFFFFFF
SEED_A = 0x52445631
SEED_B = 0x9E3779B9
C1 = 0xCC9E2D51
C2 = 0x1B873593
CB = 0x9E3779B1
TWO_M53 = 2.0**-53

Key = Union[str, bytes, bytearray, memoryview]


# ---- section 1: bytes -------------------------------------------------------------------------------------


def key_bytes(key: Key) -> bytes:
    """The bytes a key is hashed as (spec section 1).

    A `str` is encoded as UTF-8. Python strings are sequences of code points and may hold surrogate code
    points; the spec's "unpaired surrogate" is read in UTF-16 terms: a high surrogate immediately followed by
    a low surrogate forms one astral character (as it would in a JavaScript string), any other surrogate is
    unpaired and encodes as U+FFFD (EF BF BD).
    """
    if isinstance(key, (bytes, bytearray, memoryview)):
        return bytes(key)
    if not isinstance(key, str):
        raise TypeError(f"key must be str or bytes, got {type(key).__name__}")
    out = bytearray()
    i, n = 0, len(key)
    while i < n:
        cp = ord(key[i])
        if 0xD800 <= cp <= 0xDBFF and i + 1 < n and 0xDC00 <= ord(key[i + 1]) <= 0xDFFF:
            cp = 0x10000 + ((cp - 0xD800) << 10) + (ord(key[i + 1]) - 0xDC00)
            i += 1
        elif 0xD800 <= cp <= 0xDFFF:
            cp = 0xFFFD
        out += chr(cp).encode("utf-8")
        i += 1
    return bytes(out)


def id_bytes(server_id: str) -> bytes:
    """A server id's bytes: its UTF-8 encoding. Ids must be non-empty and well-formed (no surrogates)."""
    if not isinstance(server_id, str) or server_id == "":
        raise TypeError(f"server id must be a non-empty str, got {server_id!r}")
    return server_id.encode("utf-8")  # raises UnicodeEncodeError on a surrogate, as the spec requires


# ---- section 2: the digest --------------------------------------------------------------------------------


def _rotl(x: int, r: int) -> int:
    return ((x << r) | (x >> (32 - r))) & MASK32


def fmix32(h: int) -> int:
    """MurmurHash3's 32-bit finalizer."""
    h ^= h >> 16
    h = (h * 0x85EBCA6B) & MASK32
    h ^= h >> 13
    h = (h * 0xC2B2AE35) & MASK32
    h ^= h >> 16
    return h


def digest(b: bytes) -> tuple[int, int]:
    """The 64-bit digest (A, B) of a byte string: lane A is MurmurHash3 x86_32, lane B a multiply-rotate chain."""
    b = bytes(b)
    length = len(b)
    nblocks = length // 4
    h = SEED_A
    g = SEED_B
    for j in range(nblocks):
        k = int.from_bytes(b[4 * j : 4 * j + 4], "little")
        # lane A
        ka = (k * C1) & MASK32
        ka = _rotl(ka, 15)
        ka = (ka * C2) & MASK32
        h ^= ka
        h = _rotl(h, 13)
        h = (h * 5 + 0xE6546B64) & MASK32
        # lane B
        g = ((g ^ k) * CB) & MASK32
        g = _rotl(g, 15)
    tail = b[4 * nblocks :]
    if tail:
        t = int.from_bytes(tail, "little")  # missing high bytes are zero
        ta = (t * C1) & MASK32
        ta = _rotl(ta, 15)
        ta = (ta * C2) & MASK32
        h ^= ta
        g = ((g ^ t) * CB) & MASK32
    len32 = length & MASK32
    a = fmix32(h ^ len32)
    bb = fmix32(((g ^ len32) + a) & MASK32)
    return a, bb


# ---- section 3: the draw ----------------------------------------------------------------------------------


def draw(key_digest: tuple[int, int], server_digest: tuple[int, int]) -> int:
    """The 53-bit draw d of a (key, server) pair, an integer in [0, 2^53)."""
    ka, kb = key_digest
    sa, sb = server_digest
    hi = fmix32(ka ^ sa)
    lo = fmix32(((kb ^ sb) + hi) & MASK32)
    return ((hi >> 11) << 32) | lo


def uniform(d: int) -> float:
    """u = (d + 1) * 2^-53, in (0, 1] and exact in binary64."""
    return float(d + 1) * TWO_M53


# ---- section 4: weights and scores ------------------------------------------------------------------------


def score(d: int, weight: float) -> float:
    """The score ln(w) - ln(-ln(u)) of a draw for a server of weight w, +inf when u == 1."""
    e = -math.log(uniform(d))
    if e == 0.0:
        return math.inf
    return math.log(weight) - math.log(e)


@dataclass(frozen=True)
class Server:
    id: str
    weight: float = 1.0
    zone: str | None = None


ServerLike = Union[Server, str, Sequence, Mapping]


def as_server(s: ServerLike) -> Server:
    """Accepts a Server, an id, an (id, weight[, zone]) tuple or a {"id", "weight"?, "zone"?} mapping."""
    if isinstance(s, Server):
        srv = s
    elif isinstance(s, str):
        srv = Server(s)
    elif isinstance(s, Mapping):
        srv = Server(s["id"], float(s.get("weight", 1.0)), s.get("zone"))
    else:
        srv = Server(*s)
    id_bytes(srv.id)
    w = srv.weight
    if not isinstance(w, (int, float)) or not math.isfinite(w) or w <= 0:
        raise TypeError(f"server {srv.id!r}: weight must be a positive finite number, got {w!r}")
    return Server(srv.id, float(w), srv.zone)


# ---- section 5: ranking and pickN -------------------------------------------------------------------------


@dataclass(frozen=True)
class Scored:
    server: Server
    d: int
    score: float


def scored(servers: Iterable[ServerLike], key: Key) -> list[Scored]:
    """Every server with its draw and score for the key, best first (the key's ranking with details).

    Always computes the logarithm, also when all weights are equal: the spec allows skipping it there, and
    computing it lets the vectors confirm that both ways give the same order.
    """
    srv = [as_server(s) for s in servers]
    if not srv:
        raise ValueError("no servers")
    ids = [s.id for s in srv]
    if len(set(ids)) != len(ids):
        raise TypeError("duplicate server id")
    kd = digest(key_bytes(key))
    rows = []
    for s in srv:
        d = draw(kd, digest(id_bytes(s.id)))
        rows.append(Scored(s, d, score(d, s.weight)))
    # 1. score, larger first; 2. draw, larger first; 3. id, smaller first by UTF-8 bytes.
    rows.sort(key=lambda r: (-r.score, -r.d, id_bytes(r.server.id)))
    return rows


def ranking(servers: Iterable[ServerLike], key: Key) -> list[str]:
    """The key's priority list: every server id, best first."""
    return [r.server.id for r in scored(servers, key)]


def pick(servers: Iterable[ServerLike], key: Key) -> str:
    """The key's owner: the first server of its ranking."""
    return ranking(servers, key)[0]


def pick_n(servers: Iterable[ServerLike], key: Key, n: int) -> list[str]:
    """The first n servers for the key, spreading over distinct zones first when any server has a zone."""
    if not isinstance(n, int) or n < 1:
        raise ValueError(f"n must be an integer >= 1, got {n!r}")
    rows = scored(servers, key)
    if all(r.server.zone is None for r in rows):
        return [r.server.id for r in rows[:n]]
    taken: list[str] = []
    taken_set: set[str] = set()
    used_zones: set = set()
    for r in rows:
        if len(taken) == n:
            break
        # a server without a zone is a zone of its own
        zone = ("zone", r.server.zone) if r.server.zone is not None else ("server", r.server.id)
        if zone in used_zones:
            continue
        used_zones.add(zone)
        taken.append(r.server.id)
        taken_set.add(r.server.id)
    for r in rows:
        if len(taken) == n:
            break
        if r.server.id not in taken_set:
            taken.append(r.server.id)
            taken_set.add(r.server.id)
    return taken
