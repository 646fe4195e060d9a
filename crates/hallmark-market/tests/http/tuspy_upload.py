# Uploads one shard to the marketplace with tuspy, an outside tus 1.0 client, checksumming each chunk with sha256.
import hashlib
import sys

from tusclient import client
from tusclient.uploader import Uploader

url, token, path, cid = sys.argv[1:5]
# tuspy checksums with sha1 unless told otherwise; the marketplace accepts sha256 only.
Uploader.CHECKSUM_ALGORITHM_PAIR = ("sha256", hashlib.sha256)
tus = client.TusClient(url, headers={"Authorization": f"Bearer {token}"})
uploader = tus.uploader(path, chunk_size=1 << 20, metadata={"cid": cid}, upload_checksum=True)
uploader.upload()
print(uploader.url)
