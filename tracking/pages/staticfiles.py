"""Static files storage: whitenoise's compressed manifest storage, compressing each content once.

Whitenoise compresses every collected file twice (as collected and as its hashed copy), with
brotli at its slowest setting, and again on every `collectstatic`: with the admin's and the API
docs' files that was about a minute of two cores for content that had not changed. Here
identical contents are compressed once, and a compressed copy that is still current is kept:
a hashed name is its content's, and an unhashed file's copies carry its modification time.
Source maps (only a browser's developer tools fetch them) are served uncompressed.
"""

import hashlib
import os
from collections import defaultdict
from concurrent.futures import ThreadPoolExecutor, as_completed

from django.conf import settings
from whitenoise.compress import Compressor
from whitenoise.storage import CompressedManifestStaticFilesStorage

SUFFIXES = (".br", ".gz")


class CompressedOnceManifestStaticFilesStorage(CompressedManifestStaticFilesStorage):
    def compress_files(self, paths):
        extensions = getattr(
            settings,
            "WHITENOISE_SKIP_COMPRESS_EXTENSIONS",
            (*Compressor.SKIP_COMPRESS_EXTENSIONS, "map"),
        )
        compressor = self.create_compressor(extensions=extensions, quiet=True)
        hashed = set(self.hashed_files.values())
        alike: dict[bytes, list[str]] = defaultdict(list)
        for name in paths:
            if not compressor.should_compress(name):
                continue
            current = self._current_copies(name, name in hashed)
            if current:
                for compressed_name in current:
                    yield name, compressed_name
                continue
            with open(self.path(name), "rb") as file:
                alike[hashlib.sha256(file.read()).digest()].append(name)
        with ThreadPoolExecutor() as executor:
            futures = [
                executor.submit(self._compress, compressor, names) for names in alike.values()
            ]
            for future in as_completed(futures):
                yield from future.result()

    def _current_copies(self, name: str, is_hashed: bool) -> list[str]:
        """The compressed copies of `name` still made from its content (none: compress it)."""
        copies = [name + suffix for suffix in SUFFIXES if os.path.exists(self.path(name + suffix))]
        if is_hashed:
            return copies
        mtime = os.stat(self.path(name)).st_mtime_ns
        if all(os.stat(self.path(copy)).st_mtime_ns == mtime for copy in copies):
            return copies
        return []

    def _compress(self, compressor: Compressor, names: list[str]) -> list[tuple[str, str]]:
        """Compress one content, as whitenoise would, and write the copies of every name."""
        with open(self.path(names[0]), "rb") as file:
            data = file.read()
        copies: dict[str, bytes] = {}
        if compressor.use_brotli:
            compressed = compressor.compress_brotli(data)
            if compressor.is_compressed_effectively("Brotli", names[0], len(data), compressed):
                copies[".br"] = compressed
        if compressor.use_gzip and (copies or not compressor.use_brotli):
            compressed = compressor.compress_gzip(data)
            if compressor.is_compressed_effectively("Gzip", names[0], len(data), compressed):
                copies[".gz"] = compressed
        written = []
        for name in names:
            stat = os.stat(self.path(name))
            for suffix in SUFFIXES:
                path = self.path(name + suffix)
                if suffix not in copies:
                    # A copy of an earlier content must not be served for this one.
                    if os.path.exists(path):
                        os.unlink(path)
                    continue
                with open(path, "wb") as file:
                    file.write(copies[suffix])
                os.utime(path, ns=(stat.st_atime_ns, stat.st_mtime_ns))
                written.append((name, name + suffix))
        return written
