"""Safe .npz reading: object arrays through a restricted unpickler, damage always refused."""

import io
import os
import pickle
import zipfile

import numpy as np
import pytest

from rnnlab.datasets import files
from rnnlab.datasets.npz import load_npz, read_npy
from rnnlab.errors import DataFileError


def write_npz(path, **members: bytes):
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as z:
        for name, data in members.items():
            z.writestr(f"{name}.npy", data)


def npy_bytes(array, allow_pickle=True) -> bytes:
    buf = io.BytesIO()
    np.save(buf, array, allow_pickle=allow_pickle)
    return buf.getvalue()


def object_header(n: int) -> bytes:
    buf = io.BytesIO()
    header = {"descr": "|O", "fortran_order": False, "shape": (n,)}
    np.lib.format.write_array_header_1_0(buf, header)
    return buf.getvalue()  # magic string included


class Payload:
    """Pickles as a call to os.system: what a malicious data file would carry."""

    def __init__(self, marker):
        self.marker = marker

    def __reduce__(self):
        return (os.system, (f"touch {self.marker}",))


def test_round_trip_object_and_numeric_arrays(tmp_path):
    ragged = np.empty(3, dtype=object)
    ragged[:] = [[1, 2, 3], [], [2**40]]
    fortran = np.asfortranarray(np.arange(6, dtype=np.float32).reshape(2, 3))
    path = tmp_path / "ok.npz"
    np.savez_compressed(path, x=ragged, y=np.array([0, 1, 1]), f=fortran)
    out = load_npz(path)
    assert sorted(out) == ["f", "x", "y"]
    assert out["x"].dtype == object and out["x"].tolist() == [[1, 2, 3], [], [2**40]]
    assert out["y"].dtype == np.int64 and out["y"].tolist() == [0, 1, 1]
    np.testing.assert_array_equal(out["f"], fortran)


@pytest.mark.parametrize("nested", [False, True])
def test_malicious_pickle_is_refused_and_never_runs(tmp_path, nested):
    marker = tmp_path / "pwned"
    if nested:  # hidden inside an element of a genuine object array
        evil = np.empty(2, dtype=object)
        evil[0], evil[1] = [1, 2], Payload(marker)
        data = npy_bytes(evil)
    else:  # the whole stream is the payload
        data = object_header(2) + pickle.dumps(Payload(marker), protocol=2)
    path = tmp_path / "evil.npz"
    write_npz(path, x=data)
    with pytest.raises(DataFileError) as err:
        load_npz(path)
    msg = str(err.value)
    assert "evil.npz:x.npy" in msg and "system" in msg and "malicious" in msg
    assert not marker.exists()


def test_eval_global_is_refused(tmp_path):
    # GLOBAL builtins.eval, then a call: refused at the lookup.
    stream = b"\x80\x02cbuiltins\neval\nq\x00X\x04\x00\x00\x001+1q\x01\x85q\x02Rq\x03."
    path = tmp_path / "eval.npz"
    write_npz(path, x=object_header(1) + stream)
    with pytest.raises(DataFileError, match="builtins.eval"):
        load_npz(path)


def test_pickle_that_is_not_the_announced_array_is_refused(tmp_path):
    path = tmp_path / "liar.npz"
    write_npz(path, x=object_header(5) + pickle.dumps(np.empty(2, dtype=object), protocol=3))
    with pytest.raises(DataFileError, match="announces a object array of shape \\(5,\\)"):
        load_npz(path)
    write_npz(path, x=object_header(1) + pickle.dumps([1, 2, 3]))
    with pytest.raises(DataFileError, match="holds list"):
        load_npz(path)


def test_truncated_real_file_is_refused(tmp_path):
    data = (files.data_dirs()[0] / "reuters.npz").read_bytes()
    for cut in (len(data) // 2, len(data) - 100):
        path = tmp_path / "reuters.npz"
        path.write_bytes(data[:cut])
        with pytest.raises(DataFileError, match=r"reuters.npz is not a readable .npz.*truncated"):
            load_npz(path)


def test_corrupt_member_fails_crc_or_parse(tmp_path):
    data = bytearray((files.data_dirs()[0] / "reuters.npz").read_bytes())
    data[len(data) // 2] ^= 0xFF
    path = tmp_path / "reuters.npz"
    path.write_bytes(bytes(data))
    with pytest.raises(DataFileError, match=r"reuters.npz.*corrupt"):
        load_npz(path)


def test_not_a_zip_and_missing(tmp_path):
    path = tmp_path / "plain.npz"
    path.write_bytes(b"hello")
    with pytest.raises(DataFileError, match="plain.npz is not a readable .npz"):
        load_npz(path)
    with pytest.raises(DataFileError, match="does not exist"):
        load_npz(tmp_path / "absent.npz")


def test_short_numeric_data_is_refused():
    data = npy_bytes(np.arange(10, dtype=np.int64), allow_pickle=False)
    with pytest.raises(DataFileError, match="s.npy is not a valid .npy array.*ends after"):
        read_npy(io.BytesIO(data[:-8]), "s.npy")
    with pytest.raises(DataFileError, match="unexpected bytes"):
        read_npy(io.BytesIO(data + b"\x00"), "s.npy")


def test_real_files_match_keras_reader():
    from keras.src.datasets import npz_utils

    path = files.get_file("reuters.npz")[0]
    ours, ref = load_npz(path), npz_utils.load_npz(path)
    assert sorted(ours) == sorted(ref) == ["x", "y"]
    assert ours["x"].tolist() == ref["x"].tolist()
    assert ours["y"].dtype == ref["y"].dtype
    np.testing.assert_array_equal(ours["y"], ref["y"])
