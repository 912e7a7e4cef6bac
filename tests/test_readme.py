"""The two READMEs are for users: short, the same commands in both, every link and picture there."""
import os
import re

import pytest

from conftest import ROOT, read

READMES = ("README.md", "README.cn.md")
LINK = re.compile(r"\]\(([^)\s]+)\)")


def commands(text):
    """The indented command lines, without their trailing comments."""
    return [line.split("  #")[0].strip() for line in text.splitlines() if line.startswith("    ")]


def github_anchor(heading):
    """The fragment GitHub gives a heading: lower case, punctuation dropped, spaces as hyphens."""
    text = re.sub(r"[^\w\- ]", "", heading.strip().lower())
    return text.replace(" ", "-")


def anchors(markdown_file):
    with open(markdown_file, encoding="utf-8") as f:
        return {github_anchor(line.lstrip("#")) for line in f if line.startswith("#")}


@pytest.mark.parametrize("name, other", [("README.md", "README.cn.md"), ("README.cn.md", "README.md")])
def test_each_readme_is_short_and_links_the_other_in_its_first_line(name, other):
    text = read(name)
    assert len(text.splitlines()) <= 200
    assert "]({})".format(other) in text.splitlines()[0]


def test_both_readmes_give_the_same_commands():
    english, chinese = (commands(read(name)) for name in READMES)
    # but for the notebook each opens: the one in its own language
    assert english and english == [c.replace("dc_gan.cn.ipynb", "dc_gan.ipynb") for c in chinese]


@pytest.mark.parametrize("name, notebook", [("README.md", "dc_gan.ipynb"), ("README.cn.md", "dc_gan.cn.ipynb")])
def test_the_notebook_command_comes_next_to_the_two_opening_commands(name, notebook):
    assert commands(read(name))[2] == ("python3 -m venv .venv && .venv/bin/pip install -r requirements-notebook.txt"
                                       " && .venv/bin/jupyter notebook " + notebook)


@pytest.mark.parametrize("name", READMES)
def test_no_command_needs_the_development_machines_shared_folder(name):
    assert "../shared" not in read(name)


@pytest.mark.parametrize("name", READMES)
def test_every_link_to_a_file_of_the_project_and_its_section_exists(name):
    local = [link for link in LINK.findall(read(name)) if not re.match(r"https?://", link)]
    assert local
    for link in local:
        path, _, fragment = link.partition("#")
        target = os.path.join(ROOT, path) if path else os.path.join(ROOT, name)
        assert os.path.exists(target), link
        if fragment:
            assert fragment in anchors(target), link


@pytest.mark.parametrize("name", READMES)
def test_the_pictures_are_small_files_under_docs_made_by_a_script_of_the_project(name):
    text = read(name)
    pictures = re.findall(r"!\[[^\]]*\]\(([^)]+)\)", text)
    assert pictures
    one_line = text.replace("\n", " ")
    for picture in pictures:
        assert picture.startswith("docs/") and os.path.getsize(os.path.join(ROOT, picture)) <= 300 * 1024
        # the command that made it is given beside it, and its script exists
        made_by = re.search(r"python (docs/\S+\.py) .*--out {}".format(re.escape(picture)), one_line)
        assert made_by and os.path.isfile(os.path.join(ROOT, made_by.group(1)))
