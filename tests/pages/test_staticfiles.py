"""collectstatic with tracking.pages.staticfiles: each content compressed once, only when it
changed."""

import os

import brotli
import pytest
from django.core.management import call_command
from whitenoise.compress import Compressor

SCRIPT = b"function track(reference) { return fetch('/track/' + reference + '/'); }\n" * 40


@pytest.fixture
def project(tmp_path, settings, monkeypatch):
    source, root = tmp_path / "static", tmp_path / "staticfiles"
    (source / "copy").mkdir(parents=True)
    (source / "app.js").write_bytes(SCRIPT)
    (source / "copy" / "app.js").write_bytes(SCRIPT)
    (source / "site.css").write_bytes(b"body { margin: 0; padding: 0; color: #123456; }\n" * 40)
    (source / "app.js.map").write_bytes(b'{"version": 3, "mappings": "AAAA"}' * 40)
    settings.STATICFILES_DIRS = [source]
    settings.STATIC_ROOT = root
    settings.STATICFILES_FINDERS = ["django.contrib.staticfiles.finders.FileSystemFinder"]
    settings.STORAGES = {
        **settings.STORAGES,
        "staticfiles": {
            "BACKEND": "tracking.pages.staticfiles.CompressedOnceManifestStaticFilesStorage"
        },
    }
    compressed = []
    original = Compressor.compress_brotli
    monkeypatch.setattr(
        Compressor,
        "compress_brotli",
        staticmethod(lambda data: compressed.append(data) or original(data)),
    )
    return source, root, compressed


def collect() -> None:
    call_command("collectstatic", "--noinput", verbosity=0)


def names(root, suffix: str) -> set[str]:
    return {str(path.relative_to(root)) for path in root.rglob(f"*{suffix}")}


def test_identical_contents_are_compressed_once_and_served_for_every_name(project):
    _source, root, compressed = project
    collect()
    # Two contents (the script under two names and the stylesheet), each also hashed.
    assert len(compressed) == 2
    served = {name.removesuffix(".br") for name in names(root, ".br")}
    assert len(served) == 6
    for name in served:
        assert brotli.decompress((root / f"{name}.br").read_bytes()) == (root / name).read_bytes()
    assert names(root, ".gz") == {f"{name}.gz" for name in served}


def test_source_maps_are_not_compressed(project):
    _source, root, _compressed = project
    collect()
    assert not [name for name in names(root, ".br") if ".map" in name]


def test_a_second_run_compresses_nothing(project):
    _source, root, compressed = project
    collect()
    compressed.clear()
    collect()
    assert compressed == []


def test_a_changed_file_alone_is_compressed_again(project):
    source, root, compressed = project
    collect()
    compressed.clear()
    changed = SCRIPT.replace(b"track", b"trace")
    (source / "app.js").write_bytes(changed)
    later = os.stat(root / "app.js").st_mtime + 10
    os.utime(source / "app.js", (later, later))
    collect()
    assert compressed == [changed]
    assert brotli.decompress((root / "app.js.br").read_bytes()) == changed
    assert brotli.decompress((root / "copy" / "app.js.br").read_bytes()) == SCRIPT


def test_a_copy_made_from_an_earlier_content_is_removed_when_compression_stops_paying(project):
    source, root, _compressed = project
    (source / "sprite.bin").write_bytes(SCRIPT)
    collect()
    assert (root / "sprite.bin.br").exists()
    (source / "sprite.bin").write_bytes(os.urandom(4000))
    later = os.stat(root / "sprite.bin").st_mtime + 10
    os.utime(source / "sprite.bin", (later, later))
    collect()
    assert not (root / "sprite.bin.br").exists()
    assert not (root / "sprite.bin.gz").exists()
