"""Validates a Croissant manifest with mlcroissant and loads record sets; prints counts and keys as JSON.

Usage: croissant_load.py MANIFEST RECORD_SET...
"""

import json
import logging
import sys

import mlcroissant as mlc

logging.disable(logging.WARNING)
dataset = mlc.Dataset(jsonld=sys.argv[1])  # raises mlc.ValidationError on any error
result = {"counts": {}, "keys": {}, "image_sizes": {}}
for record_set in sys.argv[2:]:
    keys, sizes = [], []
    for record in dataset.records(record_set=record_set):
        key = record[f"{record_set}/key"]
        keys.append(key.decode() if isinstance(key, bytes) else key)
        content = record.get(f"{record_set}/content")
        if hasattr(content, "size") and not isinstance(content, (bytes, str)):
            sizes.append(list(content.size))
    result["counts"][record_set] = len(keys)
    result["keys"][record_set] = sorted(keys)
    result["image_sizes"][record_set] = sizes
json.dump(result, sys.stdout)
