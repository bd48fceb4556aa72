"""Downloads (atomic, verified), safe extraction, and the mirror -> cache -> download order."""

from __future__ import annotations

import hashlib
import http.server
import io
import os
import socket
import tarfile
import threading
import zipfile
from pathlib import Path

import pytest

from course_utils import assets

PAYLOAD = b"weights" * 5000


class _Handler(http.server.BaseHTTPRequestHandler):
    def log_message(self, *args):  # keep test output clean
        pass

    def do_GET(self):  # noqa: N802 - http.server API
        if self.path == "/good.bin":
            self.send_response(200)
            self.send_header("Content-Length", str(len(PAYLOAD)))
            self.end_headers()
            self.wfile.write(PAYLOAD)
        elif self.path == "/truncated.bin":
            self.send_response(200)
            self.send_header("Content-Length", str(len(PAYLOAD)))
            self.end_headers()
            self.wfile.write(PAYLOAD[:1000])
            self.wfile.flush()
            self.connection.shutdown(socket.SHUT_RDWR)
        else:
            self.send_error(404)


@pytest.fixture(scope="module")
def server():
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}"
    httpd.shutdown()


def test_download_verifies_checksum_and_writes_atomically(server, tmp_path):
    sha = hashlib.sha256(PAYLOAD).hexdigest()
    dest = assets.download(f"{server}/good.bin", tmp_path / "w.h5", sha256=sha, progress=False)
    assert dest.read_bytes() == PAYLOAD
    assert [p.name for p in tmp_path.iterdir()] == ["w.h5"]


def test_checksum_mismatch_leaves_no_file(server, tmp_path):
    with pytest.raises(assets.DownloadError, match="checksum"):
        assets.download(f"{server}/good.bin", tmp_path / "w.h5", sha256="0" * 64, progress=False)
    assert list(tmp_path.iterdir()) == []


def test_truncated_download_leaves_no_half_file(server, tmp_path):
    with pytest.raises(assets.DownloadError, match="truncated|broke off"):
        assets.download(f"{server}/truncated.bin", tmp_path / "w.h5", progress=False)
    assert list(tmp_path.iterdir()) == []


def test_unreachable_url_is_a_download_error(server, tmp_path):
    with pytest.raises(assets.DownloadError, match="could not download"):
        assets.download(f"{server}/missing.bin", tmp_path / "w.h5", progress=False)
    assert list(tmp_path.iterdir()) == []


def _zip(path: Path, names: list[str]) -> Path:
    with zipfile.ZipFile(path, "w") as zf:
        for n in names:
            zf.writestr(n, b"x")
    return path


def test_safe_extract_accepts_a_normal_zip(tmp_path):
    archive = _zip(tmp_path / "ok.zip", ["data/train/a.jpg", "data/b.txt"])
    out = assets.safe_extract(archive, tmp_path / "out")
    assert (out / "data/train/a.jpg").read_bytes() == b"x"


@pytest.mark.parametrize("name", ["../evil.txt", "data/../../evil.txt", "/tmp/evil.txt"])
def test_safe_extract_refuses_escaping_zip_members(tmp_path, name):
    archive = _zip(tmp_path / "bad.zip", ["data/ok.txt", name])
    with pytest.raises(assets.UnsafeArchiveError, match="refused"):
        assets.safe_extract(archive, tmp_path / "out")
    assert not (tmp_path / "evil.txt").exists()
    assert not (tmp_path / "out" / "data" / "ok.txt").exists(), "nothing is written before the check"


def test_safe_extract_refuses_tar_traversal_and_outside_links(tmp_path):
    for i, (kind, name, target) in enumerate([("file", "../evil.txt", None),
                                              ("sym", "link", "../../etc/passwd")]):
        archive = tmp_path / f"bad{i}.tar.gz"
        with tarfile.open(archive, "w:gz") as tf:
            info = tarfile.TarInfo(name)
            if kind == "sym":
                info.type, info.linkname = tarfile.SYMTYPE, target
                tf.addfile(info)
            else:
                info.size = 1
                tf.addfile(info, io.BytesIO(b"x"))
        with pytest.raises(assets.UnsafeArchiveError):
            assets.safe_extract(archive, tmp_path / f"out{i}")
    assert not (tmp_path / "evil.txt").exists()


def test_missing_asset_error_names_places_and_fix(isolated_home):
    asset = assets.Asset("thing.h5", "weights", "models/thing.h5", "a test weight file",
                         url="https://example.invalid/thing.h5")
    with pytest.raises(assets.AssetMissingError) as err:
        assets.ensure(asset)
    text = str(err.value)
    assert "thing.h5" in text and "COURSE_MIRROR is not set" in text
    assert str(isolated_home / "models" / "thing.h5") in text
    assert "python -m course_utils fetch" in text and "COURSE_OFFLINE" in text


def test_mirror_wins_over_cache_and_is_not_modified(tmp_path, monkeypatch):
    mirror, home = tmp_path / "mirror", tmp_path / "home"
    (mirror / "keras_home/models").mkdir(parents=True)
    (home / "models").mkdir(parents=True)
    (mirror / "keras_home/models/w.h5").write_bytes(b"m")
    (home / "models/w.h5").write_bytes(b"c")
    monkeypatch.setenv("COURSE_MIRROR", str(mirror))
    monkeypatch.setenv("KERAS_HOME", str(home))
    asset = assets.Asset("w.h5", "weights", "models/w.h5", "w")
    before = sorted(p for p in mirror.rglob("*"))
    found = assets.locate(asset)
    assert found.source == "mirror" and found.path.read_bytes() == b"m"
    assert sorted(p for p in mirror.rglob("*")) == before
    monkeypatch.setenv("COURSE_MIRROR", str(tmp_path / "nowhere"))
    assert assets.locate(asset).source == "cache"


def test_dataset_with_an_empty_required_folder_is_incomplete(tmp_path):
    asset = assets.Asset("d", "dataset", "datasets/d", "d", required=("train/a", "train/b"))
    root = tmp_path / "d"
    (root / "train/a").mkdir(parents=True)
    (root / "train/b").mkdir(parents=True)
    (root / "train/a/x.jpg").write_bytes(b"x")
    assert not assets.is_complete(asset, root)
    (root / "train/b/y.jpg").write_bytes(b"y")
    assert assets.is_complete(asset, root)


def test_offline_mode_never_touches_the_network(isolated_home, monkeypatch):
    def boom(*a, **k):
        raise AssertionError("network used while COURSE_OFFLINE=1")

    monkeypatch.setattr(assets.urllib.request, "urlopen", boom)
    asset = assets.Asset("w.h5", "weights", "models/w.h5", "w", url="https://example.invalid/w")
    with pytest.raises(assets.AssetMissingError):
        assets.ensure(asset)
    assert os.environ["COURSE_OFFLINE"] == "1"
