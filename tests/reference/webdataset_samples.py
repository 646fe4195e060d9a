"""Reads shards with the reference WebDataset reader; prints {key: {field: sha256 of its bytes}} as JSON."""

import hashlib
import json
import sys

import webdataset as wds

samples = {}
for sample in wds.WebDataset(sys.argv[1:], shardshuffle=False):
    key = sample["__key__"]
    if key in samples:
        sys.exit(f"sample {key} appears twice: a sample was split across shards")
    samples[key] = {
        field: hashlib.sha256(value).hexdigest()
        for field, value in sample.items()
        if not field.startswith("__")
    }
json.dump(samples, sys.stdout)
