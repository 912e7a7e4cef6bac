"""Build the chapter's two notebooks, dc_gan.ipynb (English) and dc_gan.cn.ipynb (Chinese), from dc_gan.py
and the text of each language in notebook_src/en.md and notebook_src/cn.md:

    python notebook_src/build.py            # rewrite both notebooks
    python notebook_src/build.py --check    # exit 1 if a committed notebook is not what this makes

The code of the notebooks is dc_gan.py's own: the file is cut with ast into its sections (the banner
comments `# ---- / # Title: ... / # ----`) and their top-level statements, and a line of a language's
file

    %% dc_gan Networks: D

puts a code cell there holding those statements of that section as they stand in dc_gan.py (the whole
section without names after the colon; `Imports` is what comes before the first banner). Every statement
of dc_gan.py must land in exactly one cell, so a function added to dc_gan.py stops this script until a
line places it. Around them:

- markdown text becomes markdown cells, a new one at each heading; a picture of the project's docs/
  folder, `![...](docs/NAME.png)`, travels inside the cell as an attachment, so that the notebook shows it
  wherever it is opened (the Docker image's notebooks have no docs/ beside them);
- a fenced ```python block is a code cell of the notebook alone (the settings, the calls that run what
  dc_gan.py defines, the pictures shown afterwards); ```python parameters tags it `parameters`, papermill's
  convention, and {default:NAME} in it is the default dc_gan.py's parse_args gives the flag NAME;
- the settings cell takes the place of dc_gan.py's module-level assignments of the same names, which the
  notebook's Configuration cell therefore leaves out (the values the notebook starts with are those the
  script starts with).

Notebooks are written without outputs, with cell ids derived from their place, so that the same sources
always make the same bytes. The defaults come from dc_gan.parse_args([]), so run it where dc_gan.py runs
(the project's virtual environment: paddle installed).
"""
import argparse
import ast
import base64
import json
import os
import re
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SOURCES = os.path.dirname(os.path.abspath(__file__))
SCRIPT = os.path.join(ROOT, "dc_gan.py")
# (the language's text, the notebook it makes)
NOTEBOOKS = (("en.md", "dc_gan.ipynb"), ("cn.md", "dc_gan.cn.ipynb"))

BANNER = re.compile(r"^# -{20,}\n# (?P<title>[^\n]+)\n# -{20,}\n", re.M)
CODE_LINE = re.compile(r"^%% dc_gan (?P<section>[^:\n]+?)\s*(?::(?P<names>[^\n]*))?$")
FENCE = re.compile(r"^```python(?P<tag> parameters)?\n(?P<code>.*?)^```$", re.M | re.S)
DEFAULT = re.compile(r"\{default:(\w+)\}")


class BuildError(Exception):
    pass


def statement_names(node):
    """The names a top-level statement defines, by which a %% dc_gan line can pick it."""
    if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
        return [node.name]
    if isinstance(node, ast.Assign):
        return [t.id for t in node.targets if isinstance(t, ast.Name)]
    if isinstance(node, ast.AnnAssign) and isinstance(node.target, ast.Name):
        return [node.target.id]
    if isinstance(node, (ast.Import, ast.ImportFrom)):
        return [(alias.asname or alias.name).split(".")[0] for alias in node.names]
    return []


def is_entry_point(node):
    """`if __name__ == "__main__":`, which a notebook's kernel (whose __name__ is __main__) must not run."""
    return (isinstance(node, ast.If) and isinstance(node.test, ast.Compare)
            and isinstance(node.test.left, ast.Name) and node.test.left.id == "__name__")


def is_docstring(node):
    return (isinstance(node, ast.Expr) and isinstance(node.value, ast.Constant)
            and isinstance(node.value.value, str))


class Statement:
    """A top-level statement of dc_gan.py: its names, its text with the comments above it (lead: the
    blank lines before it), and its place, by which statements that follow each other in the file keep
    the blank lines between them in a cell."""

    def __init__(self, section, names, lead, text, index):
        self.section, self.names, self.lead, self.text, self.index = section, names, lead, text, index
        self.used = 0


def script_sections(source):
    """{section title's first part: [Statement, ...]} in the file's order; a statement's text runs from
    the end of the one before it (or of its banner), so that the comments above it come with it."""
    lines = source.splitlines(keepends=True)
    banners = []  # (first line of the banner, first line after it, its key), 1-based
    for match in BANNER.finditer(source):
        first = source.count("\n", 0, match.start()) + 1
        key = match.group("title").split(":")[0].strip()
        banners.append((first, first + 3, key))
    if not banners:
        raise BuildError("dc_gan.py has no section banners (# ---- / # Title / # ----) to cut it by")

    def section_of(line):
        key, start = "Imports", 1
        for first, after, name in banners:
            if line >= first:
                key, start = name, after
        return key, start

    sections = {"Imports": []}
    for _, _, key in banners:
        if key in sections:
            raise BuildError("dc_gan.py has two sections called {}".format(key))
        sections[key] = []
    previous_end = {}
    for node in ast.parse(source).body:
        first = min([node.lineno] + [d.lineno for d in getattr(node, "decorator_list", [])])
        key, start = section_of(first)
        begin = max(start, previous_end.get(key, 0) + 1)
        previous_end[key] = node.end_lineno
        if key == "Imports" and is_docstring(node) or is_entry_point(node):
            continue
        raw = "".join(lines[begin - 1:node.end_lineno])
        text = raw.lstrip("\n")
        sections[key].append(Statement(key, statement_names(node), raw[:len(raw) - len(text)],
                                       text.rstrip("\n"), len(sections[key])))
    return sections


def script_defaults():
    """The defaults of the flags a training run takes (all but --generate), as `python dc_gan.py` with no
    flag has them: the settings cell sets each of them."""
    sys.path.insert(0, ROOT)
    import dc_gan
    flags = dc_gan.parse_args([]).flags()
    del flags["generate"]
    return flags


def python_literal(value):
    if isinstance(value, str) and '"' not in value and "\\" not in value:
        return '"{}"'.format(value)
    return repr(value)


def cell_id(index, kind, source):
    words = re.findall(r"[A-Za-z_]\w*", source)
    slug = "-".join(words[:3]).lower()[:40] or kind
    return "{:02d}-{}".format(index, re.sub(r"[^a-z0-9-]", "", slug.replace("_", "-")) or kind)


DOCS_PICTURE = re.compile(r"\]\(docs/([\w.-]+\.png)\)")


def attached_pictures(source):
    """The markdown with its docs/ pictures as attachments, and the attachments."""
    attachments = {}
    for name in DOCS_PICTURE.findall(source):
        with open(os.path.join(SOURCES, os.pardir, "docs", name), "rb") as f:  # beside the sources
            attachments[name] = {"image/png": base64.b64encode(f.read()).decode("ascii")}
    return DOCS_PICTURE.sub(r"](attachment:\1)", source), attachments


def new_cell(kind, source, tags=()):
    attachments = {}
    if kind == "markdown":
        source, attachments = attached_pictures(source)
    cell = {"cell_type": kind, "metadata": {}, "source": source}
    if attachments:
        cell["attachments"] = attachments
    if tags:
        cell["metadata"]["tags"] = list(tags)
    if kind == "code":
        cell["execution_count"] = None
        cell["outputs"] = []
    return cell


def code_cells(line, sections, parameters_assigned):
    match = CODE_LINE.match(line)
    key = match.group("section").strip()
    if key not in sections:
        raise BuildError("{!r}: dc_gan.py has no section {!r}; its sections: {}".format(
            line, key, ", ".join(sections)))
    statements = [s for s in sections[key] if not set(s.names) & parameters_assigned]
    names = (match.group("names") or "").split()
    if names:
        known = {n for s in sections[key] for n in s.names}
        missing = [n for n in names if n not in known]
        if missing:
            raise BuildError("{!r}: section {} of dc_gan.py defines no {}".format(
                line, key, ", ".join(missing)))
        statements = [s for s in statements if set(s.names) & set(names)]
    parts = []
    for i, statement in enumerate(statements):
        statement.used += 1
        if i:
            follows = statement.index == statements[i - 1].index + 1
            definitions = any(s.text.startswith(("def ", "class ", "@"))
                              for s in statements[i - 1:i + 1])
            parts.append("\n" + statement.lead if follows
                         else "\n\n\n" if definitions else "\n\n")
        parts.append(statement.text)
    return "".join(parts)


def build(language_file, sections, defaults):
    """The notebook (a dict) that one language's text makes."""
    with open(os.path.join(SOURCES, language_file), encoding="utf-8") as f:
        text = f.read()
    text = re.sub(r"<!--.*?-->\n?", "", text, flags=re.S)  # notes for whoever edits the text
    cells, markdown = [], []

    def end_markdown():
        source = "".join(markdown).strip("\n")
        if source:
            cells.append(new_cell("markdown", source))
        markdown.clear()

    parameters_assigned = set()
    for fence in FENCE.finditer(text):
        if fence.group("tag"):
            parameters_assigned = set(re.findall(r"^(\w+) *=", fence.group("code"), re.M))
    position = 0
    for fence in list(FENCE.finditer(text)) + [None]:
        chunk = text[position:fence.start() if fence else len(text)]
        for line in chunk.splitlines(keepends=True):
            if CODE_LINE.match(line.rstrip("\n")):
                end_markdown()
                cells.append(new_cell("code", code_cells(line.rstrip("\n"), sections,
                                                         parameters_assigned)))
            elif line.startswith("#"):
                end_markdown()
                markdown.append(line)
            else:
                markdown.append(line)
        if fence is None:
            break
        end_markdown()
        code = fence.group("code").rstrip("\n")
        if fence.group("tag"):
            unknown = [n for n in DEFAULT.findall(code) if n not in defaults]
            if unknown:
                raise BuildError("{}: no flag {}".format(language_file, ", ".join(unknown)))
            code = DEFAULT.sub(lambda m: python_literal(defaults[m.group(1)]), code)
            cells.append(new_cell("code", code, tags=["parameters"]))
        else:
            cells.append(new_cell("code", code))
        position = fence.end()

    for index, cell in enumerate(cells):
        cell["id"] = cell_id(index, cell["cell_type"], cell["source"])
        cell["source"] = cell["source"].splitlines(keepends=True)
    # key order as nbformat writes it, so that saving the notebook from Jupyter changes little
    cells = [dict(sorted(cell.items())) for cell in cells]
    return {
        "cells": cells,
        "metadata": {
            "kernelspec": {"display_name": "Python 3 (ipykernel)", "language": "python",
                           "name": "python3"},
            "language_info": {"name": "python"},
        },
        "nbformat": 4,
        "nbformat_minor": 5,
    }


def check_coverage(sections, language_file, parameters_assigned):
    problems = []
    for key, statements in sections.items():
        for statement in statements:
            if set(statement.names) & parameters_assigned:
                continue  # in the settings cell
            if statement.used != 1:
                problems.append("{} ({}) is in {} cells".format(
                    ", ".join(statement.names) or statement.text.splitlines()[0], key, statement.used))
    if problems:
        raise BuildError("{}: every statement of dc_gan.py goes in exactly one code cell (a line "
                         "'%% dc_gan SECTION: NAMES'); {}".format(language_file, "; ".join(problems)))


def notebooks():
    """{notebook file: its text} for both languages."""
    with open(SCRIPT, encoding="utf-8") as f:
        source = f.read()
    defaults = script_defaults()
    made = {}
    for language_file, notebook in NOTEBOOKS:
        sections = script_sections(source)
        nb = build(language_file, sections, defaults)
        parameters = [c for c in nb["cells"] if "parameters" in c["metadata"].get("tags", [])]
        if len(parameters) != 1 or nb["cells"].index(parameters[0]) != min(
                i for i, c in enumerate(nb["cells"]) if c["cell_type"] == "code"):
            raise BuildError("{}: the first code cell, and only it, is ```python parameters".format(
                language_file))
        assigned = set(re.findall(r"^(\w+) *=", "".join(parameters[0]["source"]), re.M))
        if assigned != set(defaults):
            raise BuildError("{}: the settings cell sets {}, not every flag of a training run: {}".format(
                language_file, sorted(assigned), sorted(defaults)))
        check_coverage(sections, language_file, assigned)
        made[notebook] = json.dumps(nb, indent=1, ensure_ascii=False) + "\n"
    return made


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--check", action="store_true",
                        help="write nothing; exit 1 if a notebook differs from what would be written")
    args = parser.parse_args(argv)
    try:
        made = notebooks()
    except BuildError as e:
        print("notebook_src/build.py: error: {}".format(e), file=sys.stderr)
        return 2
    stale = []
    for name, text in made.items():
        path = os.path.join(ROOT, name)
        current = None
        if os.path.isfile(path):
            with open(path, encoding="utf-8") as f:
                current = f.read()
        if current == text:
            continue
        stale.append(name)
        if not args.check:
            with open(path, "w", encoding="utf-8", newline="\n") as f:
                f.write(text)
    if args.check and stale:
        print("not what `python notebook_src/build.py` makes: {}".format(", ".join(stale)),
              file=sys.stderr)
        return 1
    if args.check:
        print("up to date: {}".format(", ".join(made)))
    else:
        print("written: {}".format(", ".join(stale)) if stale else "up to date: {}".format(", ".join(made)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
