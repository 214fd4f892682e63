"""The data directory, verified reads and atomic downloads of rnnlab.datasets.files."""

import io
import os
import shutil
import urllib.error
import urllib.request

import pytest

from rnnlab.datasets import files, imdb, reuters
from rnnlab.errors import DataFileError

WORD_INDEX = "reuters_word_index.json"


# The real data directory, taken before any test repoints RNNLAB_DATA. Tests fail
# (never skip) when the files are missing there.
SHARED = files.data_dirs()[0]


@pytest.fixture
def empty_data(tmp_path, monkeypatch):
    """RNNLAB_DATA -> an empty directory, and any network access fails at once."""
    data = tmp_path / "data"
    data.mkdir()
    monkeypatch.setenv("RNNLAB_DATA", str(data))

    def offline(url, *args, **kwargs):
        raise urllib.error.URLError("no network in tests")

    monkeypatch.setattr(urllib.request, "urlopen", offline)
    return data


class FakeResponse(io.BytesIO):
    """What urlopen returns: a readable context manager with headers."""

    def __init__(self, data: bytes, fail_after: int | None = None):
        super().__init__(data)
        self.headers = {"Content-Length": str(len(data))}
        self.fail_after = fail_after

    def read(self, n=-1):
        if self.fail_after is not None and self.tell() >= self.fail_after:
            raise ConnectionResetError("connection reset")
        return super().read(n)


def serve(monkeypatch, data: bytes, fail_after: int | None = None) -> list:
    urls = []

    def fake_urlopen(url, *args, **kwargs):
        urls.append(url)
        return FakeResponse(data, fail_after)

    monkeypatch.setattr(urllib.request, "urlopen", fake_urlopen)
    return urls


def test_data_dirs_env_relative_and_several(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("RNNLAB_DATA", "rel")
    assert files.data_dirs() == [tmp_path / "rel"]
    monkeypatch.setenv("RNNLAB_DATA", os.pathsep.join(["a", str(tmp_path / "b")]))
    assert files.data_dirs() == [tmp_path / "a", tmp_path / "b"]


def test_data_dirs_default_is_per_user(tmp_path, monkeypatch):
    monkeypatch.delenv("RNNLAB_DATA", raising=False)
    monkeypatch.setenv("HOME", str(tmp_path))
    assert files.data_dirs() == [tmp_path / ".rnnlab" / "datasets"]


def test_missing_file_offline_names_file_dirs_and_fix(empty_data):
    with pytest.raises(DataFileError) as err:
        reuters.load_data()
    msg = str(err.value)
    assert "reuters.npz" in msg and str(empty_data) in msg and "RNNLAB_DATA" in msg
    assert "no network in tests" in msg
    assert list(empty_data.iterdir()) == []


def test_missing_word_index_offline(empty_data):
    with pytest.raises(DataFileError, match="imdb_word_index.json.*RNNLAB_DATA"):
        imdb.get_word_index()


def test_download_lands_verified_and_atomic(empty_data, monkeypatch):
    good = (SHARED / WORD_INDEX).read_bytes()
    urls = serve(monkeypatch, good)
    index = reuters.get_word_index()
    assert urls == [files.ORIGIN + WORD_INDEX]
    assert len(index) == 30979 and index["the"] == 1
    assert sorted(p.name for p in empty_data.iterdir()) == [WORD_INDEX]
    # Now cached on disk: no second download.
    reuters.get_word_index()
    assert len(urls) == 1


def test_download_with_wrong_hash_leaves_nothing(empty_data, monkeypatch):
    good = (SHARED / WORD_INDEX).read_bytes()
    serve(monkeypatch, good[:-10] + b"tampered!!")
    with pytest.raises(DataFileError, match="not a known copy.*discarded"):
        reuters.get_word_index()
    assert list(empty_data.iterdir()) == []


def test_download_interrupted_leaves_nothing(empty_data, monkeypatch):
    good = (SHARED / WORD_INDEX).read_bytes()
    serve(monkeypatch, good, fail_after=1 << 19)
    with pytest.raises(DataFileError, match="could not be downloaded.*connection reset"):
        reuters.get_word_index()
    assert list(empty_data.iterdir()) == []


def test_wrong_hash_same_size_refused(empty_data):
    data = bytearray((SHARED / WORD_INDEX).read_bytes())
    data[1000] ^= 1
    (empty_data / WORD_INDEX).write_bytes(bytes(data))
    with pytest.raises(DataFileError) as err:
        reuters.get_word_index()
    msg = str(err.value)
    assert "not a known copy" in msg and "SHA-256" in msg and str(empty_data) in msg
    assert "9b56000edc4b34a32e89fd5a23b2605594682c74efcf7d8f4e2a5514b771e633" in msg


def test_truncated_npz_refused_before_parsing(empty_data, monkeypatch):
    data = (SHARED / "reuters.npz").read_bytes()
    (empty_data / "reuters.npz").write_bytes(data[: len(data) // 2])
    monkeypatch.setattr(reuters, "load_npz", lambda p: pytest.fail("parsed an unverified file"))
    with pytest.raises(DataFileError, match=r"reuters.npz.*1,055,424 bytes.*truncated"):
        reuters.load_data()


def test_explicit_path_is_verified_too(tmp_path):
    bad = tmp_path / "copy.npz"
    bad.write_bytes(b"x" * 2_110_848)
    with pytest.raises(DataFileError, match="not a known copy of reuters.npz"):
        reuters.load_data(path=str(bad))
    good = tmp_path / "good.npz"
    shutil.copy(SHARED / "reuters.npz", good)
    (x, _), _ = reuters.load_data(path=good)
    assert len(x) == 8982


def test_explicit_path_missing(tmp_path):
    with pytest.raises(DataFileError, match=r"reuters.npz was not found at .*nope.npz"):
        reuters.load_data(path=tmp_path / "nope.npz")


def test_bare_path_is_a_name_in_the_data_dirs(tmp_path, monkeypatch):
    monkeypatch.setenv("RNNLAB_DATA", str(tmp_path))
    shutil.copy(SHARED / WORD_INDEX, tmp_path / "renamed.json")
    assert reuters.get_word_index(path="renamed.json")["the"] == 1


def test_verification_is_cached_per_file(tmp_path, monkeypatch):
    copy = tmp_path / WORD_INDEX
    shutil.copy(SHARED / WORD_INDEX, copy)
    calls = []
    real = files.sha256_of
    monkeypatch.setattr(files, "sha256_of", lambda p: calls.append(p) or real(p))
    assert files.verify_file(copy, WORD_INDEX).provenance == "keras"
    assert files.verify_file(copy, WORD_INDEX).provenance == "keras"
    assert len(calls) == 1
    # A change of the file (new mtime) is hashed again, and refused.
    data = bytearray(copy.read_bytes())
    data[0] ^= 1
    copy.write_bytes(bytes(data))
    os.utime(copy, ns=(1, 1))
    with pytest.raises(DataFileError):
        files.verify_file(copy, WORD_INDEX)
    assert len(calls) == 2


def test_provenance_of_shared_files():
    assert files.file_provenance("reuters.npz") == "keras"
    info = files.file_info("imdb.npz")
    # The shared imdb.npz is the rebuild; a downloaded Keras original would say "keras".
    assert info.provenance in ("keras", "rnnlab-rebuild")
    assert info.sha256 == files.sha256_of(SHARED / "imdb.npz")


def test_add_known_file_accepts_a_deliberate_copy(tmp_path, monkeypatch):
    monkeypatch.setitem(files.KNOWN_FILES, WORD_INDEX, files.KNOWN_FILES[WORD_INDEX])
    own = tmp_path / "own.json"
    own.write_text('{"the": 1, "of": 2}')
    with pytest.raises(DataFileError):
        reuters.get_word_index(path=own)
    files.add_known_file(WORD_INDEX, files.sha256_of(own), note="a test file")
    assert reuters.get_word_index(path=own) == {"the": 1, "of": 2}
    assert files.file_provenance(WORD_INDEX, own) == "user"


def test_argument_errors():
    with pytest.raises(ValueError, match="`name` must be one of"):
        files.verify_file("x", "mnist.npz")
    with pytest.raises(ValueError, match="64 hexadecimal"):
        files.add_known_file("imdb.npz", "abc")
    with pytest.raises(TypeError, match="`path` must be a file name or path"):
        reuters.get_word_index(path=3)
