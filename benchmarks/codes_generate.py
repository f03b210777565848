"""Signed codes per second end to end (generate, sign, write file, write database) against bare Ed25519 signing.

    python benchmarks/codes_generate.py [--count 1000000] [--workers 1] [--db URL]

Prints one figure per line as ``name: value``; the ratio to cryptography's bare Ed25519 signs per second, measured
in the same run on one core, comes last.
"""

from __future__ import annotations

import argparse
import json
import resource
import tempfile
import time
from pathlib import Path

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from codes import service
from codes.keyfiles import KeyFileStore
from traceability.database import make_engine, migrate, session_scope
from traceability.masterdata.service import import_masterdata

MASTERDATA = Path(__file__).resolve().parents[1] / "docs" / "examples" / "masterdata.json"
GTIN = "06901234000108"


def bare_signs_per_second(n: int = 50_000) -> float:
    """cryptography's Ed25519 alone, on messages shaped like ours: the library limit on one core."""
    key = Ed25519PrivateKey.generate()
    sign = key.sign
    msgs = [b"TRC1|K1|06901234000108|%013d|L2611|271231" % i for i in range(n)]
    start = time.perf_counter()
    for m in msgs:
        sign(m)
    return n / (time.perf_counter() - start)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--count", type=int, default=1_000_000)
    parser.add_argument("--workers", type=int, default=1)
    parser.add_argument("--chunk", type=int, default=5000)
    parser.add_argument("--db", default=None, help="database URL (default: a fresh SQLite file)")
    args = parser.parse_args()

    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        engine = make_engine(args.db or f"sqlite:///{work / 'bench.db'}")
        migrate(engine)
        store = KeyFileStore(work / "keys")
        with session_scope(engine) as session:
            import_masterdata(session=session, raw=json.loads(MASTERDATA.read_text(encoding="utf-8")))
            service.create_key(session=session, store=store)

        bare_before = bare_signs_per_second()
        out_path = work / "codes.txt"
        start = time.perf_counter()
        with session_scope(engine) as session, out_path.open("w", encoding="utf-8") as out:
            signer = service.load_signer(session=session, store=store)
            result = service.generate_codes(
                session=session, signer=signer, gtin=GTIN, lot="L2611", expiry="271231", count=args.count,
                out=out, chunk_size=args.chunk, workers=args.workers, key_dir=store.directory,
            )  # fmt: skip
        elapsed = time.perf_counter() - start
        # The library limit is measured on both sides of the run, so a neighbour's load skews both figures alike.
        bare = (bare_before + bare_signs_per_second()) / 2
        rate = result.issued / elapsed
        peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024

        print(f"codes: {result.issued}")
        print(f"workers: {args.workers}")
        print(f"seconds: {elapsed:.1f}")
        print(f"file_bytes: {out_path.stat().st_size}")
        print(f"peak_rss_mb: {peak_mb:.0f}")
        print(f"bare_ed25519_signs_per_second: {bare:.0f}")
        print(f"codes_per_second: {rate:.0f}")
        print(f"ratio_to_bare_ed25519: {rate / bare:.2f}")


if __name__ == "__main__":
    main()
