"""Kernel-written trees measured and removed by descriptor: links never followed, any depth, no raise."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from course_utils import trees


def deep_tree(root: Path, depth: int, name: str = "d" * 200) -> None:
    """Folders nested ``depth`` deep under ``root`` (past PATH_MAX for large depths), a file at the end."""
    fd = os.open(root, os.O_RDONLY | os.O_DIRECTORY)
    try:
        for _ in range(depth):
            os.mkdir(name, dir_fd=fd)
            child = os.open(name, os.O_RDONLY | os.O_DIRECTORY, dir_fd=fd)
            os.close(fd)
            fd = child
        os.close(os.open("end", os.O_WRONLY | os.O_CREAT, dir_fd=fd))
    finally:
        os.close(fd)


def test_usage_counts_links_without_following_them(tmp_path: Path) -> None:
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "big").write_bytes(b"x" * 10_000)
    tree = tmp_path / "tree"
    (tree / "a").mkdir(parents=True)
    (tree / "a" / "f").write_bytes(b"x" * 100)
    (tree / "link").symlink_to(outside)
    found = trees.usage(tree)
    assert found.entries == 3 and found.complete
    assert 100 <= found.bytes < 10_000


def test_a_tree_deeper_than_path_max_is_a_breach_and_is_removed(tmp_path: Path) -> None:
    """40 x 120-character folders are 4,840 characters deep: path-based walks skip or crash on it."""
    tree = tmp_path / "tree"
    tree.mkdir()
    deep_tree(tree, 40, name="d" * 120)
    assert len(str(tree)) + 40 * 121 > os.pathconf("/", "PC_PATH_MAX")
    assert trees.usage(tree).too_deep
    assert trees.usage(tree, max_depth=64).complete
    assert trees.remove_tree(tree, max_open=4)  # folders past 4 open descriptors are moved up
    assert not tree.exists()


def test_a_very_deep_tree_does_not_exhaust_the_stack(tmp_path: Path) -> None:
    tree = tmp_path / "tree"
    tree.mkdir()
    deep_tree(tree, 1200, name="d")  # past the recursion limit
    assert trees.remove_tree(tree)
    assert not tree.exists()


def test_removal_never_follows_a_link_and_handles_permissions(tmp_path: Path) -> None:
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "keep").write_text("host file")
    tree = tmp_path / "tree"
    (tree / "locked" / "inner").mkdir(parents=True)
    (tree / "locked" / "inner" / "f").write_text("x")
    (tree / "link").symlink_to(outside)
    (tree / "locked" / "to_keep").symlink_to(outside / "keep")
    os.chmod(tree / "locked" / "inner", 0)
    os.chmod(tree / "locked", 0o500)
    assert trees.remove_tree(tree)
    assert not tree.exists() and (outside / "keep").read_text() == "host file"


def test_removal_of_what_is_not_there_or_not_a_folder(tmp_path: Path) -> None:
    assert trees.remove_tree(tmp_path / "missing")
    (tmp_path / "file").write_text("x")
    assert trees.remove_tree(tmp_path / "file") and not (tmp_path / "file").exists()
    (tmp_path / "link").symlink_to(tmp_path)
    assert trees.remove_tree(tmp_path / "link") and tmp_path.is_dir()


def test_open_path_refuses_a_component_swapped_for_a_link(tmp_path: Path) -> None:
    (tmp_path / "exchange" / "out" / "step1").mkdir(parents=True)
    with trees.opened(tmp_path, ["exchange", "out", "step1"]) as fd:
        assert os.listdir(fd) == []
    (tmp_path / "exchange" / "out").rename(tmp_path / "exchange" / "moved")
    (tmp_path / "exchange" / "out").symlink_to(tmp_path / "exchange" / "moved")
    with pytest.raises(trees.NotADirectory):
        trees.open_path(tmp_path, ["exchange", "out", "step1"])
    with pytest.raises(ValueError):
        trees.open_path(tmp_path, ["exchange", ".."])
