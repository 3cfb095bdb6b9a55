"""Every notebook runs in a real JupyterLab, in headless Chromium, and its widgets render.

One JupyterLab server (started from the project's virtualenv on a free loopback port) and one
headless Chromium (tests/conftest.py's ``browser``, which the hub's login test shares) serve
all tests of this module. For each notebook under ``notebooks/`` the test
opens it, waits for its kernel, clears the outputs, runs all cells from the Run menu, waits until
the kernel is idle and no cell is queued, then fails if a cell shows an error, a widget shows
"Error displaying widget", a widget output has no rendered view, or a cell printed other outputs
than the committed ones, by nbval's rules (tests/output_match.py: this is the suite's nbval
comparison, so each notebook runs once in it, not twice). A full-size
screenshot of a notebook that failed goes to ``test-artifacts/browser/<name>.png`` (of every
notebook with ``OMTEACH_SCREENSHOTS=1``: a 1280 x 15,000-pixel page costs Chromium seconds of CPU
to lay out and encode, which a passing run spends for nobody).

The fixture notebooks in ``tests/browser_fixtures/`` prove the checker can fail: one widget that
renders (must pass), one cell that raises and one widget whose view module does not exist (must
each be reported).

Autosave is turned off in the server's settings, so running a notebook here never rewrites it.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from tests import output_match

pytestmark = pytest.mark.browser

ROOT = Path(__file__).resolve().parent.parent
NOTEBOOKS = sorted((ROOT / "notebooks").glob("*.ipynb"))
FIXTURES = ROOT / "tests" / "browser_fixtures"
ARTIFACTS = ROOT / "test-artifacts" / "browser"
JUPYTER = ROOT / ".venv" / "bin" / "jupyter"

NOTEBOOK_TIMEOUT_S = 180  # open + kernel + run all + checks, per notebook
SCREENSHOTS = os.environ.get("OMTEACH_SCREENSHOTS") == "1"  # of passing notebooks too
SERVER_START_TIMEOUT_S = 60
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
WIDGET_MIME = "application/vnd.jupyter.widget-view+json"
STDERR_MIME = "application/vnd.jupyter.stderr"
NB = ".jp-NotebookPanel:not(.lm-mod-hidden)"  # the notebook on screen

# Notebook windowing off (JupyterLab 4 otherwise renders only cells near the viewport) and no
# autosave (the test must not write outputs back into the notebooks it runs).
LAB_SETTINGS = {
    "@jupyterlab/notebook-extension/tracker.jupyterlab-settings": {"windowingMode": "none"},
    "@jupyterlab/docmanager-extension/plugin.jupyterlab-settings": {"autosave": False},
}


# --------------------------------------------------------------------------------------------
# Fixtures: Chromium, the JupyterLab server, the browser
# --------------------------------------------------------------------------------------------


def find_chromium() -> str | None:
    if Path("/usr/bin/chromium").exists():
        return "/usr/bin/chromium"
    return shutil.which("chromium")


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _get_json(url: str, timeout: float = 5.0):
    with urllib.request.urlopen(url, timeout=timeout) as resp:
        return json.loads(resp.read().decode())


def _request(url: str, method: str, timeout: float = 10.0) -> None:
    req = urllib.request.Request(url, method=method)
    with urllib.request.urlopen(req, timeout=timeout):
        pass


@dataclass
class LabServer:
    url: str
    proc: subprocess.Popen
    log: Path
    runtime_dir: Path
    opened: int = 0

    def log_tail(self, n: int = 40) -> str:
        try:
            return "\n".join(self.log.read_text(errors="replace").splitlines()[-n:])
        except OSError:
            return "(no server log)"

    def sessions(self) -> list[dict]:
        return _get_json(f"{self.url}/api/sessions")

    def session_for(self, path: str) -> dict | None:
        for s in self.sessions():
            if s.get("path") == path:
                return s
        return None

    def kernel_state(self, path: str) -> str | None:
        """The execution state of ``path``'s kernel as the server sees it (None: no kernel yet)."""
        try:
            s = self.session_for(path)
        except (OSError, urllib.error.URLError, ValueError):
            return None
        return s["kernel"].get("execution_state") if s and s.get("kernel") else None

    def delete_session(self, path: str) -> None:
        try:
            s = self.session_for(path)
            if s is not None:
                _request(f"{self.url}/api/sessions/{s['id']}", "DELETE")
        except (OSError, urllib.error.URLError):
            pass


@pytest.fixture(scope="session")
def lab_server(chromium_path, tmp_path_factory):
    """JupyterLab on 127.0.0.1 (free port), root = repo, no auth; stopped with its kernels."""
    if not JUPYTER.exists():
        pytest.fail(f"{JUPYTER} is missing: create the project virtualenv first")
    base = tmp_path_factory.mktemp("jupyterlab")
    home, settings, workspaces = base / "home", base / "settings", base / "workspaces"
    for d in (home, settings, workspaces):
        d.mkdir()
    for rel, content in LAB_SETTINGS.items():
        f = settings / rel
        f.parent.mkdir(parents=True, exist_ok=True)
        f.write_text(json.dumps(content))
    env = dict(os.environ)
    env.update(
        HOME=str(home),
        JUPYTERLAB_SETTINGS_DIR=str(settings),
        JUPYTERLAB_WORKSPACES_DIR=str(workspaces),
        JUPYTER_RUNTIME_DIR=str(base / "runtime"),
        PYTHONUNBUFFERED="1",
        # The home is the server's own, the caches are the user's: the contracts `make setup`
        # compiled and matplotlib's font list. In an empty home every worker's kernels compiled
        # the four contracts again (about 4 s of CPU each time).
        XDG_CACHE_HOME=os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache"),
    )
    port = _free_port()
    cmd = [
        str(JUPYTER), "lab",
        "--no-browser",
        "--ServerApp.ip=127.0.0.1",
        f"--ServerApp.port={port}",
        "--ServerApp.port_retries=0",
        f"--ServerApp.root_dir={ROOT}",
        "--IdentityProvider.token=",
        "--ServerApp.password=",
        "--ServerApp.disable_check_xsrf=True",  # lets the teardown DELETE sessions (loopback only)
        "--LabApp.news_url=None",
        "--LabApp.check_for_updates_class=jupyterlab.NeverCheckForUpdate",
        "--LabApp.expose_app_in_browser=True",  # window.jupyterapp: read the cells' output models
    ]
    if hasattr(os, "geteuid") and os.geteuid() == 0:
        cmd.append("--allow-root")
    log = base / "server.log"
    with open(log, "wb") as log_f:
        proc = subprocess.Popen(cmd, cwd=ROOT, env=env, stdout=log_f, stderr=subprocess.STDOUT,
                                stdin=subprocess.DEVNULL, start_new_session=True)
    server = LabServer(f"http://127.0.0.1:{port}", proc, log, base / "runtime")
    try:
        deadline = time.monotonic() + SERVER_START_TIMEOUT_S
        while True:
            if proc.poll() is not None:
                pytest.fail(f"JupyterLab exited with code {proc.returncode}:\n{server.log_tail()}")
            try:
                _get_json(f"{server.url}/api/status", timeout=2)
                break
            except (OSError, urllib.error.URLError, ValueError):
                pass
            if time.monotonic() > deadline:
                pytest.fail(f"JupyterLab did not answer /api/status within "
                            f"{SERVER_START_TIMEOUT_S} s:\n{server.log_tail()}")
            time.sleep(0.25)  # plain Python here: no Playwright running yet
        yield server
    finally:
        _stop_server(server)


def _stop_server(server: LabServer) -> None:
    # Shut the kernels down through the API, then stop the server (which also cleans up kernels);
    # kill the whole process group if it does not go.
    try:
        for s in server.sessions():
            _request(f"{server.url}/api/sessions/{s['id']}", "DELETE")
    except (OSError, urllib.error.URLError, ValueError):
        pass
    proc = server.proc
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            pass
    try:
        os.killpg(proc.pid, signal.SIGKILL)  # leftovers in the server's session, if any
    except (ProcessLookupError, PermissionError):
        pass
    if proc.poll() is None:
        proc.wait(timeout=10)
    # Kernels run in sessions of their own: end any still alive from this server's runtime dir.
    marker = str(server.runtime_dir).encode()
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            if marker in (entry / "cmdline").read_bytes():
                os.kill(int(entry.name), signal.SIGKILL)
        except (OSError, ProcessLookupError):
            pass


# --------------------------------------------------------------------------------------------
# The checker
# --------------------------------------------------------------------------------------------


@dataclass
class RunResult:
    path: str
    problems: list[str] = field(default_factory=list)
    cells: list[dict] = field(default_factory=list)
    console_errors: list[str] = field(default_factory=list)
    seconds: float = 0.0
    screenshot: Path | None = None

    def report(self) -> str:
        lines = [f"{self.path}: problems in the browser run ({self.seconds:.0f} s):",
                 *self.problems]
        if self.console_errors:
            lines.append("browser console errors: " + " | ".join(self.console_errors[-5:]))
        return "\n  ".join(lines)

    def where_shot(self) -> str:
        """Where the screenshot is, or how to get one (a passing run takes none)."""
        if self.screenshot is not None:
            return f"screenshot: {self.screenshot}"
        return "no screenshot: run again with OMTEACH_SCREENSHOTS=1"


class NotebookTimeout(Exception):
    pass


# Reads every cell's prompt, source and outputs: what the kernel sent (the cell models, through
# window.jupyterapp) next to what the page shows (the DOM; windowing is off: all cells are there).
_READ_CELLS_JS = """
(args) => {
  const [widgetMime, nbSel] = args;
  const app = window.jupyterapp;
  const panel = app && app.shell ? app.shell.currentWidget : null;
  const cellWidgets = panel && panel.content && panel.content.widgets ? panel.content.widgets : [];
  const cells = [...document.querySelectorAll(nbSel + ' .jp-Cell')];
  return cells.map((cell, index) => {
    const code = cell.classList.contains('jp-CodeCell');
    const promptNode = cell.querySelector('.jp-InputArea-prompt');
    const editor = cell.querySelector('.jp-InputArea-editor .cm-content');
    const model = cellWidgets[index] && cellWidgets[index].node === cell
      ? cellWidgets[index].model : null;
    const modelOutputs = [];
    if (model && model.outputs) {
      for (let i = 0; i < model.outputs.length; i++) {
        const o = model.outputs.get(i);
        modelOutputs.push({type: o.type, mimes: Object.keys(o.data || {}), json: o.toJSON()});
      }
    }
    const nodes = [...cell.querySelectorAll('.jp-OutputArea-output')];
    const outputs = nodes.map((o, i) => {
      const m = modelOutputs.length === nodes.length ? modelOutputs[i] : null;
      const mime = o.getAttribute('data-mime-type') || '';
      const errorWidget = o.querySelector('.jupyter-widgets-error-widget');
      const widget = (m ? m.mimes.includes(widgetMime) : false)
        || (!mime && !!o.querySelector('.jupyter-widgets'));
      return {
        mime,
        type: m ? m.type : null,
        widget,
        widgetError: errorWidget
          ? (errorWidget.textContent || '').replace(/\\s+/g, ' ').trim().slice(0, 500) : null,
        widgetView: !errorWidget && !!o.querySelector('.jupyter-widgets > *, [class*="widget-"]'),
        text: (o.innerText || '').slice(0, 4000),
      };
    });
    return {
      index,
      code,
      prompt: promptNode ? promptNode.textContent.trim() : '',
      source: editor ? editor.innerText : (cell.innerText || '').slice(0, 200),
      appModel: !!model,
      outputs,
      modelOutputs: modelOutputs.map(m => m.json),
    };
  });
}
"""

_COUNT_RE = re.compile(r"^\[\d+\]:?$")
_BUSY_RE = re.compile(r"^\[\*\]:?$")


def _short(source: str, n: int = 70) -> str:
    one_line = " ".join(source.split())
    return one_line if len(one_line) <= n else one_line[: n - 1] + "…"


def kernel_outputs(cells: list[dict]) -> dict[int, list[dict]]:
    """The outputs the kernel sent, per code cell (its index in the notebook), as read from the
    page's cell models: what :func:`output_match.differences` compares with the committed ones.
    A cell whose model was not found is left out (and so reported as not reached)."""
    return {c["index"]: c["modelOutputs"] for c in cells if c["code"] and c["appModel"]}


def find_problems(cells: list[dict]) -> list[str]:
    """Turn the cells read from the page into failure messages (empty list = all good)."""
    problems = []
    code_index = -1
    for cell in cells:
        if not cell["code"]:
            continue
        code_index += 1
        where = f"cell {cell['index']} (code cell {code_index}) `{_short(cell['source'])}`"
        for out in cell["outputs"]:
            text = out["text"]
            error_text = out["mime"] == STDERR_MIME and ("Traceback" in text or "Error" in text)
            if out["type"] == "error" or error_text:
                problems.append(f"{where} shows an error:\n{text.strip()[-800:]}")
            if out["widgetError"] is not None or "Error displaying widget" in text:
                detail = (f"the widget error view ({_short(out['widgetError'], 200)}; the cause "
                          f"is in the browser console errors)") if out["widgetError"] else text
                problems.append(f"{where} shows 'Error displaying widget': {_short(detail, 300)}")
            elif "Loading widget" in text:
                problems.append(f"{where} still shows 'Loading widget...' after the run")
            elif out["widget"] and not out["widgetView"]:
                problems.append(f"{where} has a widget output but no rendered widget view")
        if not _COUNT_RE.match(cell["prompt"]):
            problems.append(f"{where} has no execution count after Run All "
                            f"(prompt {cell['prompt']!r})")
    return problems


def run_notebook_in_browser(browser, server: LabServer, rel_path: str,
                            screenshot: Path | None = None,
                            timeout_s: float = NOTEBOOK_TIMEOUT_S) -> RunResult:
    """Open ``rel_path`` (relative to the repo) in JupyterLab, run all cells, check the result."""
    result = RunResult(rel_path)
    start = time.monotonic()
    deadline = start + timeout_s
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    page = context.new_page()
    page.set_default_timeout(30_000)
    page.on("console", lambda m: result.console_errors.append(_short(m.text, 300))
            if m.type == "error" else None)

    def timed_out(what: str):
        raise NotebookTimeout(f"timed out after {timeout_s:.0f} s waiting for {what}")

    wait_until = _waiter(page, deadline, timed_out)

    def kernel_state() -> str | None:
        return server.kernel_state(rel_path)

    try:
        # A workspace of its own: the default one would reopen the notebooks of earlier tests.
        server.opened += 1
        workspace = f"browser-test-{os.getpid()}-{server.opened}"
        page.goto(f"{server.url}/lab/workspaces/{workspace}/tree/{rel_path}",
                  wait_until="domcontentloaded")
        page.locator(f"{NB} .jp-Notebook .jp-Cell").first.wait_for(
            state="attached", timeout=max(1, deadline - time.monotonic()) * 1000)
        # The toolbar says "Idle" before any kernel exists: ask the server instead.
        wait_until("the notebook's kernel to be idle (/api/sessions)",
                   lambda: kernel_state() == "idle")
        wait_until("the page to connect to the kernel",
                   lambda: page.locator(f"{NB} .jp-Notebook-ExecutionIndicator"
                                        f"[data-status='idle']").count() > 0)
        dialog = page.locator(".jp-Dialog")
        if dialog.count():
            text = _short(dialog.first.inner_text())
            result.problems.append(f"a dialog is open before the run: {text}")

        # Start from empty prompts, so a count after the run means "ran now".
        _menu(page, "Edit", "editmenu:clear-all")  # Clear Outputs of All Cells
        wait_until("the outputs to be cleared",
                   lambda: page.locator(f"{NB} .jp-OutputArea-output").count() == 0)
        _menu(page, "Run", "runmenu:run-all")  # Run All Cells

        def settled() -> bool:
            prompts = page.locator(f"{NB} .jp-CodeCell .jp-InputArea-prompt")
            texts = [t.strip() for t in prompts.all_text_contents()]
            if any(_BUSY_RE.match(t) for t in texts):
                return False
            if texts and not any(_COUNT_RE.match(t) for t in texts):
                return False  # Run All not started yet
            if page.locator(f"{NB} .jp-Notebook-ExecutionIndicator"
                            f"[data-status='idle']").count() == 0:
                return False
            return kernel_state() == "idle"

        wait_until("all cells to run (no [*] left) and the kernel to be idle", settled)
        # Stable for a moment (late display messages, widget views rendering).
        page.wait_for_timeout(750)
        wait_until("the run to settle", settled)
        wait_until("widget views to render",
                   lambda: page.locator(f"{NB} .jp-OutputArea-output",
                                        has_text="Loading widget").count() == 0, poll_ms=250)

        result.cells = page.evaluate(_READ_CELLS_JS, [WIDGET_MIME, NB])
        result.problems.extend(find_problems(result.cells))
        dialog = page.locator(".jp-Dialog")
        if dialog.count():
            text = _short(dialog.first.inner_text())
            result.problems.append(f"a dialog is open after the run: {text}")
    except NotebookTimeout as exc:
        result.problems.append(str(exc))
    finally:
        if screenshot is not None and (result.problems or SCREENSHOTS):
            try:
                _full_screenshot(page, screenshot)
                result.screenshot = screenshot
            except Exception as exc:  # a screenshot must not hide the real failure
                result.problems.append(f"screenshot failed: {exc}")
        result.seconds = time.monotonic() - start
        context.close()
        server.delete_session(rel_path)
    return result


def _waiter(page, deadline: float, timed_out):
    """``wait_until(what, predicate, poll_ms)``: poll ``predicate`` on the page's clock until it
    returns something true (returned), or call ``timed_out(what)`` once ``deadline`` passes."""
    def wait_until(what: str, predicate, poll_ms: int = 250):
        while True:
            value = predicate()
            if value:
                return value
            if time.monotonic() > deadline:
                timed_out(what)
            page.wait_for_timeout(poll_ms)
    return wait_until


def _menu(page, menu: str, command: str) -> None:
    """Click a JupyterLab main-menu entry by its command id (e.g. Run > Run All Cells)."""
    page.locator(".lm-MenuBar-item", has_text=re.compile(rf"^{re.escape(menu)}$")).click()
    item = page.locator(f".lm-Menu-item[data-command='{command}']:not(.lm-mod-disabled)").first
    item.wait_for(state="visible")
    item.click()


def _full_screenshot(page, path: Path) -> None:
    """The notebook scrolls inside the lab shell: make the window as tall as the notebook."""
    path.parent.mkdir(parents=True, exist_ok=True)
    to_top_and_measure = """(nbSel) => {
      const nb = document.querySelector(nbSel + ' .jp-Notebook');
      if (!nb) return 0;
      const scroller = nb.classList.contains('jp-WindowedPanel-outer')
        ? nb : (nb.querySelector('.jp-WindowedPanel-outer') || nb);
      scroller.scrollTop = 0;
      const content = scroller.firstElementChild || scroller;
      const extra = window.innerHeight - scroller.clientHeight;
      return Math.ceil(Math.max(content.scrollHeight, scroller.scrollHeight) + extra + 40);
    }"""
    height = page.evaluate(to_top_and_measure, NB)
    if height > 900:
        page.set_viewport_size({"width": 1280, "height": min(int(height), 20_000)})
        page.wait_for_timeout(500)
        page.evaluate(to_top_and_measure, NB)
        page.wait_for_timeout(200)
    page.screenshot(path=str(path), full_page=True)


# --------------------------------------------------------------------------------------------
# Tests
# --------------------------------------------------------------------------------------------


CLASSROOM_PAIR = ("notebooks/06_classroom_teacher.ipynb", "notebooks/06_classroom_round.ipynb")
# Each notebook runs once in the browser: chapter 6's two run side by side (the test after this
# one, with the same checks), not again alone (that cost a minute of the suite for nothing new).
ALONE = [p for p in NOTEBOOKS if p.relative_to(ROOT).as_posix() not in CLASSROOM_PAIR]


@pytest.mark.slow
@pytest.mark.parametrize("notebook", ALONE, ids=[p.name for p in ALONE])
def test_notebook_runs_in_jupyterlab(browser, lab_server, notebook):
    rel = notebook.relative_to(ROOT).as_posix()
    result = run_notebook_in_browser(browser, lab_server, rel,
                                     screenshot=ARTIFACTS / f"{notebook.stem}.png")
    if result.problems:
        pytest.fail(result.report() + f"\n  ({result.where_shot()})", pytrace=False)
    # Not a vacuous pass: a notebook saved with widget outputs must show rendered widgets here.
    saved = json.loads(notebook.read_text())
    saved_widgets = sum(WIDGET_MIME in out.get("data", {})
                        for cell in saved["cells"] for out in cell.get("outputs", []))
    rendered = sum(bool(o["widget"] and o["widgetView"])
                   for c in result.cells for o in c["outputs"])
    if saved_widgets and not rendered:
        pytest.fail(f"{rel}: saved with {saved_widgets} widget output(s), but no widget view "
                    f"was found in the browser ({result.where_shot()})", pytrace=False)
    # What nbval would check, on this run's outputs: the root conftest.py leaves this notebook's
    # nbval cells out of a session that runs this test, so this is the suite's comparison.
    differ = output_match.differences(notebook, kernel_outputs(result.cells))
    if differ:
        pytest.fail(f"{rel}: run in JupyterLab, {len(differ)} cell(s) printed other outputs "
                    f"than the committed ones (nbval's rules):\n" + "\n".join(differ),
                    pytrace=False)


@pytest.mark.slow
@pytest.mark.skipif(not all((ROOT / p).exists() for p in CLASSROOM_PAIR),
                    reason="the classroom chapter's notebooks are not in this checkout")
def test_teacher_and_student_notebooks_side_by_side(browser, lab_server):
    """The teacher's dashboard and a student's notebook open side by side in one JupyterLab
    (the student's in a split to the right), each runs all its cells from cleared outputs, and
    both render and print the committed outputs: the checks
    :func:`test_notebook_runs_in_jupyterlab` makes of the others."""
    teacher_nb, student_nb = CLASSROOM_PAIR
    result = RunResult(f"{teacher_nb} | {student_nb}")
    start = time.monotonic()
    deadline = start + 2 * NOTEBOOK_TIMEOUT_S
    context = browser.new_context(viewport={"width": 1600, "height": 1000})
    page = context.new_page()
    page.set_default_timeout(30_000)
    page.on("console", lambda m: result.console_errors.append(_short(m.text, 300))
            if m.type == "error" else None)

    wait_until = _waiter(page, deadline, lambda what: pytest.fail(
        f"timed out waiting for {what}; {result.report()}", pytrace=False))

    def idle(rel: str) -> bool:
        return lab_server.kernel_state(rel) == "idle"

    def panel_id(rel: str) -> str | None:
        return page.evaluate("""(path) => {
          const w = [...window.jupyterapp.shell.widgets('main')]
            .find(w => w.context && w.context.path === path);
          return w ? w.id : null; }""", rel)

    def run_all(rel: str, watch=None) -> str:
        pid = wait_until(f"{rel} to open", lambda: panel_id(rel))
        page.evaluate("(id) => { window.jupyterapp.shell.activateById(id); }", pid)
        wait_until(f"{rel}'s kernel to be idle", lambda: idle(rel))
        sel = f"#{pid}"
        # The panel's own session: connected once its kernel reports idle to the page.
        wait_until(f"{rel} to connect to its kernel", lambda: page.evaluate(
            """(id) => { const w = window.jupyterapp.shell.widgets('main');
                 for (const x of w) { if (x.id === id) {
                   const k = x.sessionContext && x.sessionContext.session
                     && x.sessionContext.session.kernel;
                   return !!k && k.status === 'idle'; } }
                 return false; }""", pid))
        # Start from empty prompts, so a count after the run means "ran now".
        page.evaluate("() => { window.jupyterapp.commands.execute("
                      "'notebook:clear-all-cell-outputs'); }")
        wait_until(f"{rel}'s outputs to be cleared", lambda: page.locator(
            f"{sel} .jp-OutputArea-output").count() == 0)
        page.evaluate("() => { window.jupyterapp.commands.execute('notebook:run-all-cells'); }")

        def settled() -> bool:
            if watch is not None:
                watch()
            texts = [t.strip() for t in page.locator(
                f"{sel} .jp-CodeCell .jp-InputArea-prompt").all_text_contents()]
            return (bool(texts) and not any(_BUSY_RE.match(t) for t in texts)
                    and any(_COUNT_RE.match(t) for t in texts) and idle(rel))

        wait_until(f"{rel} to finish running", settled, poll_ms=250 if watch else 500)
        page.wait_for_timeout(750)
        wait_until(f"{rel} to settle", settled)
        return pid

    live: list[tuple[str, int]] = []  # (live line, submitted cells) while the rounds run

    def watch_dashboard() -> None:
        """While the teacher's kernel is busy (the rounds cell), note each new drawing of the
        dashboard: the background thread must redraw it without the kernel's help."""
        if idle(teacher_nb):
            return
        seen = page.evaluate(_DASHBOARD_JS)
        if seen is None:
            return
        drawing = (seen["live"], seen["table"].count("submitted"))
        if not live or live[-1] != drawing:
            live.append(drawing)
            if len({n for _, n in live}) == 2 and "round" in drawing[0]:  # the count changed
                ARTIFACTS.mkdir(parents=True, exist_ok=True)
                # the dashboard itself (Run All has scrolled the notebook to its end)
                page.locator(".omteach-live >> xpath=..").screenshot(
                    path=str(ARTIFACTS / "06_dashboard_mid_round.png"))
                (ARTIFACTS / "06_dashboard_live.txt").write_text(
                    "\n".join(f"{n} submitted | {text}" for text, n in live) + "\n")

    def check_dashboard(result: RunResult) -> None:
        """Issue 23's done-when, read off the finished dashboard and the drawings above."""
        if len({n for _, n in live}) < 2:
            result.problems.append(f"the dashboard did not change while the rounds ran: {live}")
        seen = page.evaluate(_DASHBOARD_JS) or {"rows": []}
        # student, address, accepted, round 0, round 1, credited, withdrawable
        rows = [r for r in seen["rows"] if len(r) >= 7]
        late = [r for r in rows if not r[3].strip() and "submitted" in r[4]]
        if not late:
            result.problems.append(f"no latecomer took part in round 1 only: {rows}")
        unpaid = [r for r in rows if "submitted" in r[3] + r[4] and r[5].startswith("0.00")]
        if not rows or unpaid:
            result.problems.append(f"a contributor shows nothing credited: {unpaid or rows}")

    try:
        lab_server.opened += 1
        workspace = f"browser-pair-{os.getpid()}-{lab_server.opened}"
        page.goto(f"{lab_server.url}/lab/workspaces/{workspace}/tree/{teacher_nb}",
                  wait_until="domcontentloaded")
        page.locator(".jp-Notebook .jp-Cell").first.wait_for(state="attached")
        left = run_all(teacher_nb, watch=watch_dashboard)
        check_dashboard(result)
        page.evaluate("""(path) => { window.jupyterapp.commands.execute('docmanager:open',
                          {path, options: {mode: 'split-right'}}); }""", student_nb)
        right = run_all(student_nb)
        boxes = {}
        for rel, pid in ((teacher_nb, left), (student_nb, right)):
            page.evaluate("(id) => { window.jupyterapp.shell.activateById(id); }", pid)
            page.wait_for_timeout(300)
            cells = page.evaluate(_READ_CELLS_JS, [WIDGET_MIME, f"#{pid}"])
            result.problems.extend(f"{rel}: {p}" for p in find_problems(cells))
            # nbval's comparison of this run's outputs, as for the other chapters: the root
            # conftest.py leaves both notebooks' nbval cells out of a session that runs this test
            result.problems.extend(f"{rel}: {p}" for p in output_match.differences(
                ROOT / rel, kernel_outputs(cells)))
            rendered = sum(bool(o["widget"] and o["widgetView"]) for c in cells
                           for o in c["outputs"])
            if not rendered:
                result.problems.append(f"{rel}: no widget rendered")
            boxes[rel] = page.locator(f"#{pid}").bounding_box()
        lbox, rbox = boxes[teacher_nb], boxes[student_nb]
        if not (lbox and rbox and lbox["x"] + lbox["width"] <= rbox["x"] + 1
                and min(lbox["width"], rbox["width"]) > 400):
            result.problems.append(f"the notebooks are not side by side: {lbox} {rbox}")
        ARTIFACTS.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(ARTIFACTS / "06_side_by_side.png"))
    finally:
        result.seconds = time.monotonic() - start
        if result.problems or time.monotonic() > deadline:
            try:
                page.screenshot(path=str(ARTIFACTS / "06_side_by_side_failed.png"))
            except Exception:  # a screenshot must not hide the real failure
                pass
        context.close()
        for rel in CLASSROOM_PAIR:
            lab_server.delete_session(rel)
    if result.problems:
        pytest.fail(result.report(), pytrace=False)


_DASHBOARD_JS = """() => {
  const live = document.querySelector('.omteach-live');
  const table = document.querySelector('.omteach-students');
  if (!live || !table) return null;
  const rows = [...table.querySelectorAll('tbody tr')].map(
    tr => [...tr.querySelectorAll('td')].map(td => td.innerText));
  return {live: live.innerText, table: table.innerText, rows};
}"""
"""The teacher's dashboard as the page shows it: the live line, the students table, its rows."""


def _fixture(name: str) -> str:
    return (FIXTURES / name).relative_to(ROOT).as_posix()


def test_checker_passes_a_rendering_widget(browser, lab_server):
    result = run_notebook_in_browser(browser, lab_server, _fixture("ok_widget.ipynb"),
                                     screenshot=ARTIFACTS / "fixture_ok_widget.png")
    assert result.problems == [], result.report()
    assert all(c["appModel"] for c in result.cells), "window.jupyterapp gave no cell models"
    widget_outputs = [o for c in result.cells for o in c["outputs"] if o["widget"]]
    assert len(widget_outputs) == 1 and widget_outputs[0]["widgetView"]
    assert any("6" in o["text"] for o in result.cells[-1]["outputs"])
    assert (result.screenshot is not None) == SCREENSHOTS  # a passing run takes none by default


def test_checker_reports_a_cell_error(browser, lab_server, tmp_path):
    shot = tmp_path / "cell_error.png"
    result = run_notebook_in_browser(browser, lab_server, _fixture("cell_error.ipynb"),
                                     screenshot=shot)
    assert result.screenshot == shot and shot.stat().st_size > 0  # a failing one always does
    errors = [p for p in result.problems if "shows an error" in p]
    assert len(errors) == 1, result.problems
    assert errors[0].startswith("cell 2 (code cell 1) `raise ValueError(")
    assert "fixture error on purpose" in errors[0]
    assert not any("timed out" in p for p in result.problems), result.problems


def test_checker_reports_a_broken_widget(browser, lab_server):
    result = run_notebook_in_browser(browser, lab_server, _fixture("broken_widget.ipynb"))
    assert len(result.problems) == 1, result.problems
    assert result.problems[0].startswith("cell 1 (code cell 0) `import ipywidgets as widgets")
    assert "Error displaying widget" in result.problems[0]


if __name__ == "__main__":  # pragma: no cover
    sys.exit(pytest.main([__file__, "-q", "-o", "addopts=", "-p", "no:nbval"]))
