"""Decode rate per folder of the zxing-cpp sample images, and images per second, for ``scanning.decode``.

The images are public photos and scans (``../shared/conformance/barcodes``); an image counts as read when its
exact ``.txt`` text is among the decoded symbols. ``falsepositives-1`` reports the share of images with anything
decoded (it must be 0) and ``multi-1`` has no expected texts, so neither has a rate; both count for speed.

    python -m benchmarks.decode                     # both engines, try_harder
    python -m benchmarks.decode --fast              # no pre-processing passes
    python -m benchmarks.decode --engines zbar      # one engine alone
    python -m benchmarks.decode --compare           # every engine / mode combination, then the default run

Prints ``name: value`` lines; ``images_per_second`` comes last.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

from scanning.decode import ENGINES, available_engines, decode_image

BARCODES = Path(__file__).resolve().parents[1].parent / "shared" / "conformance" / "barcodes"
SUFFIXES = (".png", ".jpg", ".webp")


def load() -> dict[str, list[tuple[str, bytes, str | None]]]:
    """Every image in memory first, so disk reads are not timed."""
    folders: dict[str, list[tuple[str, bytes, str | None]]] = {}
    for folder in sorted(p for p in BARCODES.iterdir() if p.is_dir()):
        images = []
        for image in sorted(p for p in folder.iterdir() if p.suffix in SUFFIXES):
            txt = image.with_suffix(".txt")
            expected = txt.read_bytes().decode("utf-8") if txt.exists() else None
            images.append((image.name, image.read_bytes(), expected))
        folders[folder.name] = images
    return folders


def run(
    folders: dict[str, list[tuple[str, bytes, str | None]]], *, try_harder: bool, engines: tuple[str, ...]
) -> tuple[dict[str, float], float]:
    """Decode rate per folder (false-positive share for falsepositives-1) and images per second."""
    rates: dict[str, float] = {}
    count = 0
    started = time.perf_counter()
    for name, images in folders.items():
        read = graded = 0
        for _, data, expected in images:
            symbols = decode_image(data, try_harder=try_harder, engines=engines).symbols
            count += 1
            if name == "falsepositives-1":
                graded += 1
                read += bool(symbols)
            elif expected is not None:
                graded += 1
                read += expected in {s.text for s in symbols}
        if graded:
            rates[name] = read / graded
    return rates, count / (time.perf_counter() - started)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--fast", action="store_true", help="try_harder=False: the engines on the image as given")
    parser.add_argument("--engines", nargs="+", choices=ENGINES, default=list(available_engines()))
    parser.add_argument("--compare", action="store_true", help="also print every engine / mode combination")
    args = parser.parse_args()
    if not BARCODES.exists():
        sys.exit(f"conformance images not found at {BARCODES}")
    folders = load()
    decode_image(folders["qrcode-1"][0][1])  # import-time and first-call costs are not throughput

    if args.compare:
        for try_harder in (False, True):
            for engines in [(engine,) for engine in available_engines()] + [available_engines()]:
                rates, speed = run(folders, try_harder=try_harder, engines=engines)
                label = f"{'+'.join(engines)}{'' if try_harder else ',fast'}"
                line = " ".join(
                    f"{'false_positives' if name == 'falsepositives-1' else name}={rate:.3f}"
                    for name, rate in rates.items()
                )
                print(f"compare[{label}]: {line} images_per_second={speed:.1f}")

    rates, speed = run(folders, try_harder=not args.fast, engines=tuple(args.engines))
    for name, rate in rates.items():
        key = "false_positive_rate_" if name == "falsepositives-1" else "decode_rate_"
        print(f"{key}{name}: {rate:.3f}")
    print(f"images: {sum(len(images) for images in folders.values())}")
    print(f"images_per_second: {speed:.1f}")


if __name__ == "__main__":
    main()
