"""Generates the benchmark corpora of issue "Sealing" in a folder (idempotent: kept when already there).

Usage: bench-corpus.py mixed DIR   -- 1,000 files of ~1 MiB and 20,000 files of 0.2-4 KiB (~1.1 GB)
       bench-corpus.py tiny DIR N  -- N files of 0.2-4 KiB in folders of 1,000 (for the memory check)
"""

import os
import random
import sys


def write_tree(root, count, size_of, per_folder, stem, ext_pairs):
    rng = random.Random(42)
    for i in range(count):
        folder = os.path.join(root, f"{stem}-{i // per_folder:04d}")
        os.makedirs(folder, exist_ok=True)
        for ext in ext_pairs:
            with open(os.path.join(folder, f"{i:07d}.{ext}"), "wb") as f:
                f.write(rng.randbytes(size_of(rng)))


def main():
    kind, root = sys.argv[1], sys.argv[2]
    # The marker sits beside the corpus, not in it, so it is not sealed with it.
    done = root.rstrip("/") + ".complete"
    if os.path.exists(done):
        return
    os.makedirs(root, exist_ok=True)
    if kind == "mixed":
        # 1,000 photos of ~1 MiB and 20,000 small sidecars (10,000 samples of .json + .txt).
        write_tree(root, 1000, lambda r: r.randint(900_000, 1_200_000), 250, "photos", ["jpg"])
        write_tree(root, 10_000, lambda r: r.randint(200, 4096), 1000, "labels", ["json", "txt"])
    elif kind == "tiny":
        write_tree(root, int(sys.argv[3]), lambda r: r.randint(200, 4096), 1000, "notes", ["txt"])
    else:
        sys.exit(f"unknown corpus {kind!r}: use mixed or tiny")
    open(done, "w").close()


main()
