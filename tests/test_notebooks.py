"""The chapter's notebooks, dc_gan.ipynb and dc_gan.cn.ipynb: made from dc_gan.py by
notebook_src/build.py and committed as it makes them, without outputs; in the chapter's order; run end to
end from a fresh kernel on the real MNIST test split (skipped, with the reason, where it is absent); and
seen in a headless Chromium through a Jupyter server (skipped, with the reason, where no Chromium is)."""
import ast
import base64
import importlib.util
import io
import json
import os
import re
import signal
import threading
import time

import pytest
from PIL import Image

import dc_gan
from conftest import ROOT, SHARED_MNIST, fingerprint, read


def load(name, path):
    spec = importlib.util.spec_from_file_location(name, os.path.join(ROOT, path))
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


build = load("notebook_build", "notebook_src/build.py")
browser = load("notebook_screenshot", "docs/notebook_screenshot.py")

NOTEBOOKS = ("dc_gan.ipynb", "dc_gan.cn.ipynb")
# the chapter's sections, in its order, by the names its Chinese headings give them
CHAPTER_ORDER = ("加载包", "定义辅助工具", "定义超参数", "定义网络结构", "损失函数", "创建 Program",
                 "数据集 Feeders", "创建执行器", "开始训练", "打印特定轮次的生成结果", "总结")
CHAPTER_URL = "https://github.com/PaddlePaddle/book/tree/develop/09.gan"
# a tiny run: batches 0 and 10 print a loss line and save a grid
TINY = dict(epoch=1, batch_size=32, max_batches=11, mnist_split="test")
LOSS_LINE = re.compile(r"^Epoch ID=0 Batch ID=(\d+) D-Loss=[\d.]+ DG-Loss=[\d.]+  \[.* left\]$", re.M)


def notebook(name):
    return json.loads(read(name))


def text(cell):
    return "".join(cell["source"])


def code_cells(nb):
    return [c for c in nb["cells"] if c["cell_type"] == "code"]


@pytest.fixture(scope="module")
def made():
    return build.notebooks()


@pytest.mark.parametrize("name", NOTEBOOKS)
def test_the_committed_notebook_is_what_the_build_makes(made, name):
    assert read(name) == made[name], ("{} is not what `python notebook_src/build.py` makes from "
                                      "dc_gan.py and notebook_src/: run it and commit".format(name))


@pytest.mark.parametrize("name", NOTEBOOKS)
def test_the_notebook_is_committed_without_outputs(name):
    for cell in code_cells(notebook(name)):
        assert cell["outputs"] == [] and cell["execution_count"] is None


def test_the_build_check_fails_on_a_notebook_that_differs(tmp_path, monkeypatch, capsys):
    monkeypatch.setattr(build, "ROOT", str(tmp_path))
    for name in NOTEBOOKS:
        (tmp_path / name).write_text(read(name), encoding="utf-8")
    assert build.main(["--check"]) == 0
    edited = notebook("dc_gan.ipynb")
    edited["cells"][0]["source"].append("\nedited by hand")
    (tmp_path / "dc_gan.ipynb").write_text(json.dumps(edited), encoding="utf-8")
    assert build.main(["--check"]) == 1
    assert "dc_gan.ipynb" in capsys.readouterr().err


def test_the_code_cells_are_dc_gans_own_statements(made):
    """Every top-level definition of dc_gan.py is in each notebook, as the script has it."""
    script = read("dc_gan.py")
    for name in NOTEBOOKS:
        cells = "\n".join(text(c) for c in code_cells(json.loads(made[name])))
        for node in ast.parse(script).body:
            if isinstance(node, (ast.FunctionDef, ast.ClassDef)):
                assert ast.get_source_segment(script, node) in cells, (name, node.name)
        assert "__main__" not in cells  # the kernel's __name__ is __main__: the script's entry stays out


def test_a_statement_of_dc_gan_in_no_cell_stops_the_build():
    # a function added among the networks, whose cells name what they hold
    script = read("dc_gan.py")
    loss_banner = re.search(r"^# -+\n# Loss", script, re.M).start()
    script = script[:loss_banner] + "def added_by_someone():\n    return 1\n\n\n" + script[loss_banner:]
    sections = build.script_sections(script)
    defaults = build.script_defaults()
    build.build("en.md", sections, defaults)
    with pytest.raises(build.BuildError, match="added_by_someone"):
        build.check_coverage(sections, "en.md", set(defaults))


@pytest.mark.parametrize("name", NOTEBOOKS)
def test_the_first_code_cell_holds_the_settings_with_the_chapters_defaults(name):
    first = code_cells(notebook(name))[0]
    assert first["metadata"]["tags"] == ["parameters"]
    values = {node.targets[0].id: ast.literal_eval(node.value)
              for node in ast.parse(text(first)).body if isinstance(node, ast.Assign)}
    defaults = dc_gan.parse_args([]).flags()
    del defaults["generate"]  # drawing, not training
    assert values == dict(defaults, num_threads=None)  # every flag of a training run; None: all cores
    assert values["epoch"] == 20 and values["batch_size"] == 128 and values["output"] == "./output_dcgan"
    # and a comment naming the quick setting to try first
    assert "epoch = 1; batch_size = 32; max_batches = 20" in text(first)


def assigned(code):
    """The names and values a piece of Python assigns, tuples unpacked."""
    values = {}
    for node in ast.parse(code).body:
        if isinstance(node, ast.Assign) and isinstance(node.targets[0], ast.Tuple):
            values.update(zip((t.id for t in node.targets[0].elts), ast.literal_eval(node.value)))
        elif isinstance(node, ast.Assign):
            values[node.targets[0].id] = ast.literal_eval(node.value)
    return values


@pytest.mark.parametrize("name, readme", [("dc_gan.ipynb", "README.md"), ("dc_gan.cn.ipynb", "README.cn.md")])
def test_the_readmes_first_run_is_one_line_to_uncomment_in_the_settings(name, readme):
    first_run = next(line.strip() for line in read(readme).splitlines()
                     if line.startswith("    ") and "--output first_run" in line)
    settings = text(code_cells(notebook(name))[0]).splitlines()
    (line,) = [line for line in settings if line.startswith("# ") and "first_run" in line]
    typed = first_run.split("dc_gan.py ", 1)[1].split()
    as_typed = dc_gan.parse_args(typed)
    as_set = dc_gan.parse_args(["--{}={}".format(k, v) for k, v in assigned(line[2:]).items()])
    assert as_set.flags() == as_typed.flags() and as_set.given == as_typed.given


@pytest.mark.parametrize("name", NOTEBOOKS)
def test_the_training_cell_passes_every_setting(name):
    nb = notebook(name)
    settings = assigned(text(code_cells(nb)[0]))
    call = ast.parse(text(cell_holding(nb, "status = main(")))
    (passed,) = [node.value for node in call.body
                 if isinstance(node, ast.Assign) and node.targets[0].id == "settings"]
    assert sorted(k.arg for k in passed.keywords) == sorted(settings)


@pytest.mark.parametrize("name", NOTEBOOKS)
def test_the_sections_come_in_the_chapters_order_after_a_link_to_it(name):
    nb = notebook(name)
    assert CHAPTER_URL in text(nb["cells"][0])
    headings = [line for c in nb["cells"] if c["cell_type"] == "markdown"
                for line in text(c).splitlines() if line.startswith("## ")]
    places = []
    for section in CHAPTER_ORDER:
        matching = [i for i, h in enumerate(headings) if section in h]
        assert len(matching) == 1, (section, headings)
        places.append(matching[0])
    assert places == sorted(places)


# ---------------------------------------------------------------------------------------------------
# Run all, as papermill runs it, on a tiny run of the real test split
# ---------------------------------------------------------------------------------------------------
def skip_without_the_real_test_split():
    if not os.path.isfile(os.path.join(SHARED_MNIST, "t10k-images-idx3-ubyte.gz")):
        pytest.skip("the real MNIST test split is not in {} (it is not part of this repository: set "
                    "DCGAN_MNIST_DIR to a folder with MNIST's t10k files)".format(SHARED_MNIST))


@pytest.fixture(scope="module")
def executed(tmp_path_factory):
    """{notebook: (its executed copy's path, the run's output folder)}, both notebooks run once."""
    skip_without_the_real_test_split()
    folder = tmp_path_factory.mktemp("executed")
    runs = {}
    for name in NOTEBOOKS:
        output = folder / (name.split(".ipynb")[0] + "-output")
        browser.execute(os.path.join(ROOT, name), str(folder / name),
                        dict(TINY, data_dir=SHARED_MNIST, output=str(output)))
        runs[name] = (folder / name, output)
    return runs


def outputs(nb, kind=None):
    return [o for c in code_cells(nb) for o in c["outputs"] if kind is None or o["output_type"] == kind]


def stream(nb, name):
    return "".join("".join(o["text"]) for o in outputs(nb, "stream") if o["name"] == name)


def pictures(cell, mime="image/png"):
    return [Image.open(io.BytesIO(base64.b64decode(o["data"][mime]))) for o in cell["outputs"]
            if mime in o.get("data", {})]


def cell_holding(nb, fragment):
    (cell,) = [c for c in code_cells(nb) if fragment in text(c)]
    return cell


@pytest.mark.slow
@pytest.mark.parametrize("name", NOTEBOOKS)
def test_run_all_prints_the_loss_lines_with_progress_and_no_error(executed, name):
    path, output = executed[name]
    nb = json.loads(path.read_text(encoding="utf-8"))
    assert outputs(nb, "error") == []
    assert "Traceback" not in stream(nb, "stderr") and "error" not in stream(nb, "stderr")
    run_cell = cell_holding(nb, "status = main(")
    printed = "".join("".join(o.get("text", "")) for o in run_cell["outputs"])
    assert [int(b) for b in LOSS_LINE.findall(printed)] == [0, 10]
    assert "done: 11 batches" in printed
    assert sorted(p.name for p in output.glob("0000_*.png")) == ["0000_0000.png", "0000_0010.png"]


@pytest.mark.slow
def test_run_all_into_a_folder_holding_a_run_refuses_in_one_line_and_keeps_it(executed, tmp_path):
    _, output = executed[NOTEBOOKS[0]]
    kept = {name: md5 for name, md5 in fingerprint(output).items() if not name.startswith("generated.")}
    again = tmp_path / NOTEBOOKS[0]
    browser.execute(os.path.join(ROOT, NOTEBOOKS[0]), str(again),
                    dict(TINY, data_dir=SHARED_MNIST, output=str(output)))
    nb = json.loads(again.read_text(encoding="utf-8"))
    run_cell = cell_holding(nb, "status = main(")
    assert [o for o in run_cell["outputs"] if o["output_type"] == "error"] == []
    stderr = "".join("".join(o["text"]) for o in run_cell["outputs"] if o.get("name") == "stderr")
    (line,) = stderr.strip().splitlines()
    assert line.startswith("dc_gan.py: error: --output {} holds an earlier run".format(output))
    # the run's own files as they were (the notebook's last cell draws new digits with its generator)
    assert {name: md5 for name, md5 in fingerprint(output).items() if name in kept} == kept


@pytest.mark.slow
@pytest.mark.parametrize("name", NOTEBOOKS)
def test_run_all_shows_the_loss_curve_the_film_and_the_last_grid(executed, name):
    path, output = executed[name]
    nb = json.loads(path.read_text(encoding="utf-8"))
    shown = cell_holding(nb, 'display(Image(filename=os.path.join(output, "progress.gif")))')
    (curve,) = pictures(shown)
    assert curve.size == Image.open(output / "losses.png").size
    (film,) = pictures(shown, "image/gif")
    assert getattr(film, "n_frames", 1) == 2  # one frame per saved grid
    # the chapter's display_image, on the newest grid: batch 10's
    last = cell_holding(nb, "display_image(epoch_no, batch_id, output)")
    assert "display_image(0, 10)" in "".join("".join(o.get("text", "")) for o in last["outputs"])
    (grid,) = pictures(last)
    assert grid.size == Image.open(output / "0000_0010.png").size
    assert grid.convert("RGB").tobytes() == Image.open(output / "0000_0010.png").convert("RGB").tobytes()
    (drawn,) = pictures(cell_holding(nb, '"--generate=64"'))
    assert drawn.size == Image.open(output / "generated.png").size


@pytest.mark.slow
def test_interrupting_the_kernel_while_it_trains_finishes_the_batch_and_saves(tmp_path):
    """Jupyter's Interrupt (SIGINT to the kernel) during the training cell, as the notebook's text says:
    the batch is finished, everything saved, the cell ends without a traceback, status 130."""
    skip_without_the_real_test_split()
    import nbformat
    from nbclient import NotebookClient
    nb = nbformat.read(os.path.join(ROOT, NOTEBOOKS[0]), as_version=4)
    output = tmp_path / "output"
    code_cells(nb)[0]["source"] += "\n" + "\n".join("{} = {!r}".format(k, v) for k, v in dict(
        TINY, max_batches=1000, data_dir=SHARED_MNIST, output=str(output)).items())
    client = NotebookClient(nb, kernel_name="python3", timeout=600, resources={"metadata": {"path": ROOT}})
    with client.setup_kernel():
        for index, cell in enumerate(nb.cells):
            if cell.cell_type != "code":
                continue
            if "status = main(" in cell.source:
                def interrupt_after_the_first_grid():
                    deadline = time.time() + 300
                    while not (output / "0000_0000.png").exists() and time.time() < deadline:
                        time.sleep(0.2)
                    os.kill(client.km.provisioner.pid, signal.SIGINT)
                threading.Thread(target=interrupt_after_the_first_grid, daemon=True).start()
                client.execute_cell(cell, index)
                break
            client.execute_cell(cell, index)
        probe = nbformat.v4.new_code_cell("print('status', status)")
        nb.cells.append(probe)
        client.execute_cell(probe, len(nb.cells) - 1)
    assert [o for o in cell.outputs if o["output_type"] == "error"] == []
    stderr = "".join(o.get("text", "") for o in cell.outputs if o.get("name") == "stderr")
    assert "stopped by Ctrl-C: everything is saved in {}".format(output) in stderr
    assert "".join(probe.outputs[0]["text"]) == "status 130\n"
    assert {"checkpoint.npz", "generator.pdmodel", "losses.png", "progress.gif"} <= set(os.listdir(output))


# ---------------------------------------------------------------------------------------------------
# In a browser: Jupyter on 127.0.0.1, the executed copies in headless Chromium
# ---------------------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def page(executed):
    if browser.chromium_paths() is None:
        pytest.skip("no Chromium with its driver (chromium, chromedriver) on PATH: on Debian, "
                    "apt-get install chromium chromium-driver")
    folder = os.path.dirname(executed[NOTEBOOKS[0]][0])
    with browser.jupyter_server(folder) as (url, token), browser.chromium() as driver:
        yield driver, url, token


@pytest.mark.slow
@pytest.mark.parametrize("name", NOTEBOOKS)
def test_the_executed_notebook_renders_in_chromium(page, name):
    driver, url, token = page
    seen = browser.open_notebook(driver, url, token, name)
    title = text(notebook(name)["cells"][0]).splitlines()[0].lstrip("# ")
    assert seen["heading"].rstrip("¶") == title
    assert any(code.startswith("def D(x") for code in seen["code"])
    # the loss curve, the film, the last grid, the drawn digits: every picture loaded, none empty
    assert len(seen["pictures"]) >= 4 and all(w > 100 and h > 100 for w, h in seen["pictures"])


@pytest.mark.slow
def test_the_page_without_the_token_shows_no_notebook(page):
    driver, url, token = page
    driver.delete_all_cookies()  # those the visits with the token left
    driver.get("{}/notebooks/{}".format(url, NOTEBOOKS[1]))
    browser.wait_for(driver, "document.readyState === 'complete'")
    assert "/login" in driver.current_url
    assert not driver.execute_script("return document.querySelectorAll('.jp-Cell').length")
