"""Checks test/vectors/hash-spec-v1.json against the independent Python implementation of docs/hash-spec.md.

Usage: python3 python/check_vectors.py [path/to/hash-spec-v1.json]
Prints one summary line `hash-spec-v1: N vectors, P passed, F failed` and exits 1 if anything failed.
"""

from __future__ import annotations

import json
import math
import sys
from pathlib import Path

sys.dont_write_bytecode = True  # leave no __pycache__ in the source tree
sys.path.insert(0, str(Path(__file__).resolve().parent))

import rendezvous_spec as spec  # noqa: E402

DEFAULT = Path(__file__).resolve().parent.parent / "test" / "vectors" / "hash-spec-v1.json"
# Section 4 allows ln to differ by an ulp between libms. The score ln(w) - ln(e) may then differ by a few ulps of
# its larger term (cancellation makes that many ulps of a score near 0), so scores are compared to that.
MAX_SCORE_ULPS = 4


def check_vector(v: dict, stats: dict) -> list[str]:
    errors: list[str] = []
    key = v["key"]
    raw = bytes.fromhex(key["hex"])
    if "utf8" in key:
        encoded = spec.key_bytes(key["utf8"])
        if encoded != raw:
            errors.append(f"UTF-8 of key.utf8 is {encoded.hex()}, key.hex is {key['hex']}")
        key_value = key["utf8"]
    else:
        key_value = raw
    kd = spec.digest(raw)
    if list(kd) != v["keyDigest"]:
        errors.append(f"key digest {list(kd)} != {v['keyDigest']}")
    servers = [spec.as_server(s) for s in v["servers"]]
    by_id = {s.id: s for s in servers}
    for rec in v["draws"]:
        d = spec.draw(kd, spec.digest(spec.id_bytes(rec["id"])))
        if str(d) != rec["d"]:
            errors.append(f"draw for {rec['id']!r}: {d} != {rec['d']}")
            continue
        sc = spec.score(d, by_id[rec["id"]].weight)
        scale = max(abs(math.log(by_id[rec["id"]].weight)), 1.0)
        diff = abs(sc - float(rec["score"])) / math.ulp(scale)
        if diff > MAX_SCORE_ULPS:
            errors.append(f"score for {rec['id']!r}: {sc!r} != {rec['score']} ({diff} ulps)")
        elif diff > 0:
            stats["inexact_scores"] += 1
    ranking = spec.ranking(servers, key_value)
    want = v["ranking"]
    if ranking[: len(want)] != want:
        first = next(i for i, (a, b) in enumerate(zip(ranking, want)) if a != b)
        errors.append(f"ranking differs at position {first}: {ranking[first]!r} != {want[first]!r}")
    if ranking[0] != v["pick"]:
        errors.append(f"pick {ranking[0]!r} != {v['pick']!r}")
    for p in v["pickN"]:
        got = spec.pick_n(servers, key_value, p["n"])
        if got != p["ids"]:
            errors.append(f"pickN({p['n']}) = {got} != {p['ids']}")
    return errors


def main(argv: list[str]) -> int:
    path = Path(argv[1]) if len(argv) > 1 else DEFAULT
    data = json.loads(path.read_text(encoding="utf-8"))
    name = f"hash-spec-v{data['version']}"
    if data["version"] != spec.SPEC_VERSION:
        print(f"{name}: this checker implements version {spec.SPEC_VERSION}", file=sys.stderr)
        return 2
    id_failures = 0
    for rec in data["idDigests"]:
        b = spec.id_bytes(rec["id"])
        if b.hex() != rec["hex"] or list(spec.digest(b)) != rec["digest"]:
            id_failures += 1
            print(f"FAIL id digest {rec['id']!r}: {list(spec.digest(b))} != {rec['digest']}", file=sys.stderr)
    stats = {"inexact_scores": 0}
    passed = failed = 0
    for v in data["vectors"]:
        errors = check_vector(v, stats)
        if errors:
            failed += 1
            for e in errors:
                print(f"FAIL {v['name']}: {e}", file=sys.stderr)
        else:
            passed += 1
    total = len(data["vectors"])
    if total != data.get("vectorCount", total):
        print(f"FAIL vectorCount says {data['vectorCount']}, file holds {total}", file=sys.stderr)
        failed += 1
    print(
        f"{name}: {len(data['idDigests'])} id digests, {id_failures} failed; "
        f"{stats['inexact_scores']} recorded scores inexact by at most {MAX_SCORE_ULPS} ulps of their larger term (allowed)",
        file=sys.stderr,
    )
    print(f"{name}: {total} vectors, {passed} passed, {failed} failed")
    return 0 if failed == 0 and id_failures == 0 else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv))
