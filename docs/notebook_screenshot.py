"""Run one of the chapter's notebooks on a short setting, open the executed copy in Jupyter in a headless
Chromium, and save a screenshot of what a reader sees below the training cell: the loss curve, the film
and the last grid. In 64 colours, to stay small.

    python docs/notebook_screenshot.py dc_gan.cn.ipynb --data_dir ~/mnist --epoch 2 --batch_size 64 --out docs/notebook.png

Needs the notebook's requirements (requirements-notebook.txt), papermill and selenium
(tests/requirements-notebook.txt), and Chromium with its driver (Debian: apt-get install chromium
chromium-driver), and for the Chinese notebook's text a CJK font (Debian: fonts-wqy-zenhei; without one
Chromium draws boxes). tests/test_notebooks.py opens the notebooks with the same server and browser.
"""
import argparse
import contextlib
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
import uuid

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
# Chromium without anything that reaches out of the machine or needs a display or a GPU
CHROMIUM_FLAGS = ("--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                  "--disable-background-networking", "--disable-component-update", "--disable-sync",
                  "--disable-dev-shm-usage", "--hide-scrollbars")
WINDOW = (1280, 1500)
COLOURS = 64  # octree keeps the loss curve's blue and orange; the file stays well below 300 KB
SCREENSHOT_WINDOW = (1280, 1900)  # from the loss curve's cell down to the last grid


def chromium_paths():
    """Chromium and its driver as Debian installs them (or as PATH finds them), or None."""
    browser = shutil.which("chromium") or shutil.which("chromium-browser")
    driver = shutil.which("chromedriver")
    return (browser, driver) if browser and driver else None


def execute(notebook, executed, parameters, cwd=ROOT, timeout=900):
    """Run a notebook from a fresh kernel with papermill, its settings cell's values replaced."""
    import papermill
    papermill.execute_notebook(notebook, executed, parameters=parameters, cwd=cwd, kernel_name="python3",
                               progress_bar=False, log_output=False, execution_timeout=timeout)


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextlib.contextmanager
def jupyter_server(root, timeout=120):
    """Jupyter Notebook on 127.0.0.1 serving root, with a token of its own and a configuration of its
    own (nothing from the user's ~/.jupyter); yields (base URL, token)."""
    token = uuid.uuid4().hex
    port = free_port()
    home = tempfile.mkdtemp(prefix="jupyter-home-")
    env = dict(os.environ, JUPYTER_CONFIG_DIR=os.path.join(home, "config"),
               JUPYTER_RUNTIME_DIR=os.path.join(home, "runtime"),
               JUPYTERLAB_SETTINGS_DIR=os.path.join(home, "lab-settings"),
               JUPYTERLAB_WORKSPACES_DIR=os.path.join(home, "lab-workspaces"))
    # no question about Jupyter's news feed over the page (it would fetch from the internet)
    os.makedirs(env["JUPYTERLAB_SETTINGS_DIR"])
    with open(os.path.join(env["JUPYTERLAB_SETTINGS_DIR"], "overrides.json"), "w") as f:
        f.write('{"@jupyterlab/apputils-extension:notification": {"fetchNews": "false"}}\n')
    log = open(os.path.join(home, "server.log"), "w+")
    server = subprocess.Popen(
        [sys.executable, "-m", "notebook", "--no-browser", "--ip=127.0.0.1", "--port={}".format(port),
         "--ServerApp.port_retries=0", "--IdentityProvider.token={}".format(token),
         "--ServerApp.root_dir={}".format(root)]
        + (["--allow-root"] if hasattr(os, "geteuid") and os.geteuid() == 0 else []),  # CI is root
        stdout=log, stderr=subprocess.STDOUT, env=env)
    url = "http://127.0.0.1:{}".format(port)
    try:
        deadline = time.time() + timeout
        while True:
            if server.poll() is not None:
                log.seek(0)
                raise RuntimeError("Jupyter stopped at once:\n" + log.read()[-3000:])
            try:
                with urllib.request.urlopen("{}/api/status?token={}".format(url, token), timeout=5):
                    break
            except OSError:
                if time.time() > deadline:
                    raise RuntimeError("Jupyter did not answer on {} within {} s".format(url, timeout))
                time.sleep(0.5)
        yield url, token
    finally:
        server.terminate()
        try:
            server.wait(timeout=30)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait()
        log.close()
        shutil.rmtree(home, ignore_errors=True)


@contextlib.contextmanager
def chromium(window=WINDOW):
    """Headless Chromium driven by selenium through Debian's chromedriver, with a fresh profile."""
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service
    paths = chromium_paths()
    if paths is None:
        raise RuntimeError("no Chromium with its driver on PATH (Debian: apt-get install chromium "
                           "chromium-driver)")
    browser, driver_path = paths
    profile = tempfile.mkdtemp(prefix="chromium-profile-")
    options = webdriver.ChromeOptions()
    options.binary_location = browser
    for flag in CHROMIUM_FLAGS + ("--user-data-dir={}".format(profile),
                                  "--window-size={},{}".format(*window)):
        options.add_argument(flag)
    driver = webdriver.Chrome(service=Service(executable_path=driver_path), options=options)
    try:
        yield driver
    finally:
        driver.quit()
        shutil.rmtree(profile, ignore_errors=True)


def wait_for(driver, script, timeout=120, what="the page"):
    """Poll a JavaScript expression until it returns something true; return that."""
    deadline = time.time() + timeout
    while True:
        value = driver.execute_script("return " + script)
        if value:
            return value
        if time.time() > deadline:
            raise TimeoutError("{} did not appear within {} s".format(what, timeout))
        time.sleep(0.5)


def open_notebook(driver, url, token, name, timeout=180):
    """Open the notebook in Jupyter's page and wait until every cell and every output picture has
    rendered; return what a reader sees: the first heading, the code cells' text, the loaded pictures'
    sizes."""
    driver.get("{}/notebooks/{}?token={}".format(url, name, token))
    wait_for(driver, "document.querySelectorAll('.jp-Notebook .jp-Cell').length", timeout,
             "a cell of {}".format(name))
    # Jupyter renders the cells of a long notebook as they come into view: scroll through it once
    driver.execute_script("""
        const cells = document.querySelectorAll('.jp-Notebook .jp-Cell');
        cells.forEach(cell => cell.scrollIntoView());
        cells[0].scrollIntoView();""")
    pictures = """Array.from(document.querySelectorAll('.jp-OutputArea-output img'))
                  .filter(img => img.complete && img.naturalWidth > 0)
                  .map(img => [img.naturalWidth, img.naturalHeight])"""
    wait_for(driver, "{}.length".format(pictures), timeout, "a picture among the outputs of " + name)
    time.sleep(2)  # the pictures after the first
    return {
        "heading": driver.execute_script(
            "const h = document.querySelector('.jp-MarkdownOutput h1'); return h && h.textContent"),
        "code": driver.execute_script(
            "return Array.from(document.querySelectorAll('.jp-CodeCell .jp-InputArea .cm-content'))"
            ".map(e => e.textContent)"),
        "pictures": driver.execute_script("return " + pictures),
    }


def screenshot(driver, out, cell_text):
    """Scroll the code cell whose text holds cell_text to the top, and save the window in COLOURS colours."""
    from PIL import Image
    # Jupyter renders and measures cells as they come into view, which moves the ones below: scroll
    # until the cell stays where it was put
    for _ in range(20):
        offset = driver.execute_script("""
            const cells = Array.from(document.querySelectorAll('.jp-Notebook .jp-CodeCell'));
            const cell = cells.find(c => c.querySelector('.cm-content').textContent.includes(arguments[0]));
            if (!cell) return null;
            let scroller = cell.parentElement;
            while (scroller && !(scroller.scrollHeight > scroller.clientHeight
                                 && /auto|scroll/.test(getComputedStyle(scroller).overflowY))) {
                scroller = scroller.parentElement;
            }
            if (!scroller) { cell.scrollIntoView(); return 0; }
            const offset = cell.getBoundingClientRect().top - scroller.getBoundingClientRect().top - 8;
            scroller.scrollTop += offset;
            return offset;""", cell_text)
        if offset is None:
            raise RuntimeError("no code cell holds {!r}".format(cell_text))
        time.sleep(1)
        if abs(offset) < 2:
            break
    png = out + ".full.png"
    driver.save_screenshot(png)
    with Image.open(png) as picture:
        picture.convert("RGB").quantize(COLOURS, method=Image.Quantize.FASTOCTREE).save(out, optimize=True)
    os.remove(png)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("notebook", help="dc_gan.ipynb or dc_gan.cn.ipynb")
    parser.add_argument("--data_dir", required=True, help="a folder with MNIST's IDX files")
    parser.add_argument("--mnist_split", default="test")
    parser.add_argument("--epoch", type=int, default=1)
    parser.add_argument("--batch_size", type=int, default=32)
    parser.add_argument("--max_batches", type=int, default=None)
    parser.add_argument("--cell", default='"losses.png"',
                        help="the screenshot starts at the code cell holding this text")
    parser.add_argument("--out", required=True, help="the PNG to write")
    parser.add_argument("--keep", metavar="DIR", help="run the notebook in DIR and keep it there; if DIR "
                        "holds it executed already, only take the screenshot")
    args = parser.parse_args(argv)
    with contextlib.ExitStack() as stack:
        work = args.keep or stack.enter_context(tempfile.TemporaryDirectory(prefix="notebook-screenshot-"))
        os.makedirs(work, exist_ok=True)
        name = os.path.basename(args.notebook)
        if not os.path.isfile(os.path.join(work, name)):
            execute(os.path.join(ROOT, args.notebook), os.path.join(work, name), dict(
                epoch=args.epoch, batch_size=args.batch_size, max_batches=args.max_batches,
                data_dir=os.path.abspath(os.path.expanduser(args.data_dir)),
                mnist_split=args.mnist_split, output=os.path.join(os.path.abspath(work), "output_dcgan")))
        with jupyter_server(work) as (url, token), chromium(SCREENSHOT_WINDOW) as driver:
            seen = open_notebook(driver, url, token, name)
            print("{}: {!r}, {} code cells, pictures {}".format(
                name, seen["heading"], len(seen["code"]), seen["pictures"]))
            screenshot(driver, args.out, args.cell)
    print("{}: {} bytes".format(args.out, os.path.getsize(args.out)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
