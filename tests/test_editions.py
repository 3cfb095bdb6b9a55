"""The teacher's editions, made by nbgrader from the instructor sources in source/course/.

- the student edition (nbgrader's release, what `make student` zips and what notebooks/ holds)
  contains no line of any solution or hidden test, and neither does tests/;
- notebooks/ is exactly that student edition (cell for cell), so `make lab` shows no solution;
- nbgrader's autograde gives full marks to the answer key and zero to an empty notebook, in every
  chapter.
"""

from __future__ import annotations

import ast
import contextlib
import fcntl
import os
import re
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import nbformat
import pytest

from tests.answer_key import graded_cells

ROOT = Path(__file__).resolve().parent.parent
SOURCES = sorted((ROOT / "source" / "course").glob("[0-9]*.ipynb"))
REGIONS = (("### BEGIN SOLUTION", "### END SOLUTION"),
           ("### BEGIN HIDDEN TESTS", "### END HIDDEN TESTS"))


def nbgrader(course: Path, *args: str) -> subprocess.CompletedProcess:
    """Run nbgrader in ``course`` (a copy of the repository's nbgrader_config.py points it there);
    nbgrader runs the alembic command, so this Python's bin goes first on PATH."""
    env = dict(os.environ, PATH=f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}",
               PYTHONPATH=f"{ROOT}{os.pathsep}{os.environ.get('PYTHONPATH', '')}")
    out = subprocess.run([sys.executable, "-m", "nbgrader", *args], cwd=course, env=env,
                         capture_output=True, text=True, timeout=900)
    assert out.returncode == 0, out.stdout + out.stderr
    # nbgrader logs an error in its config file and goes on with its defaults: not here.
    assert "Exception while loading config file" not in out.stderr, out.stderr[-3000:]
    return out


def make_course(tmp: Path, chapters: list[Path]) -> Path:
    """A course directory of its own: the repository's settings and the given sources."""
    shutil.copy(ROOT / "nbgrader_config.py", tmp / "nbgrader_config.py")
    (tmp / "source" / "course").mkdir(parents=True)
    for path in chapters:
        shutil.copy(path, tmp / "source" / "course" / path.name)
    for path in (ROOT / "source" / "course").iterdir():  # what the course hands out besides
        if path.suffix != ".ipynb" and path.is_file():
            shutil.copy(path, tmp / "source" / "course" / path.name)
    nbgrader(tmp, "generate_assignment", "course", "--force")
    return tmp


@pytest.fixture(scope="session")
def generated(tmp_path_factory, worker_id) -> Path:
    """A course with every chapter generated (its release and gradebook), made once per test
    session: the tests that grade copy it rather than run nbgrader's generate_assignment again
    (5 s of CPU). Under xdist the first worker to need it makes it in the session's shared temp
    folder and the others wait for it on a lock (each made its own before: 15 s for three)."""
    if worker_id == "master":
        return make_course(tmp_path_factory.mktemp("generated"), SOURCES)
    shared = tmp_path_factory.getbasetemp().parent / "generated-course"
    with open(shared.with_name("generated-course.lock"), "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # released when the file closes
        if not (shared / ".made").exists():
            shutil.rmtree(shared, ignore_errors=True)  # a worker that failed half-way
            shared.mkdir()
            make_course(shared, SOURCES)
            (shared / ".made").touch()
    return shared


def copy_of(generated: Path, dest: Path) -> Path:
    """A course of its own (submissions, grades, feedback) from the generated one."""
    shutil.copytree(generated, dest, dirs_exist_ok=True)
    return dest


@pytest.fixture(scope="module")
def release(generated, tmp_path_factory) -> Path:
    """The student edition of all chapters, generated as `make student` does, and its zip."""
    course = copy_of(generated, tmp_path_factory.mktemp("course"))
    subprocess.run([sys.executable, "-m", "zipfile", "-c", "student.zip", "course"],
                   cwd=course / "build" / "release", check=True)
    return course / "build" / "release" / "course"


def _code(line: str) -> str:
    """A line without indentation, comment marks and trailing comment, lower case."""
    line = line.strip().lstrip("#").strip()
    return re.sub(r"\s+#.*$", "", line).strip().lower()


def _public_text(chapter: Path) -> str:
    """What a student sees anyway: the chapter's student edition (nbgrader's own stripping of the
    source, in memory) and the library and contracts the course runs on."""
    from nbgrader.preprocessors import ClearHiddenTests, ClearSolutions

    nb = nbformat.read(chapter, as_version=4)
    resources = {}
    stub = ClearSolutions(code_stub={"python": "# your code here"})
    nb, _ = stub.preprocess(nb, resources)
    nb, _ = ClearHiddenTests().preprocess(nb, resources)
    texts = [c.source for c in nb.cells]
    texts += [p.read_text() for p in (ROOT / "omteach").rglob("*.py")]
    texts += [p.read_text() for p in (ROOT / "contracts").glob("*.vy")]
    raw = "\n".join(texts).lower()
    return raw + "\n" + "\n".join(_code(line) for text in texts for line in text.splitlines())


def answer_lines() -> dict[str, str]:
    """Every line of a solution or hidden test in the sources, and the right-hand side of each
    assignment or return in them, that a student cannot already read elsewhere (in the chapter's
    student edition, the library or the contracts): where it comes from -> the text to look for."""
    found: dict[str, str] = {}
    for path in SOURCES:
        public = _public_text(path)
        for gid, cell in graded_cells(nbformat.read(path, as_version=4)).items():
            region = None
            for line in cell.source.splitlines():
                marks = [r for r in REGIONS if line.strip() == r[0]]
                if marks:
                    region = marks[0][1]
                    continue
                if region and line.strip() == region:
                    region = None
                if not region:
                    continue
                code = _code(line)
                if region == REGIONS[1][1] and not code.startswith("assert"):
                    continue  # a hidden test's set-up is no answer; its assertions are
                texts = [code]
                if m := re.match(r"^(?:return|[\w\[\]\"\.]+\s*=)\s*(.+)$", code):
                    texts.append(m.group(1))
                    with contextlib.suppress(ValueError, SyntaxError):  # a string: its text
                        value = ast.literal_eval(m.group(1))
                        if isinstance(value, str):
                            texts[-1] = value.strip()
                for text in texts:
                    if len(text) >= 10 and text not in public:
                        found[f"{path.name} {gid}: {line.strip()}"] = text
    return found


def test_the_answer_key_has_answers():
    lines = answer_lines()
    answered = {where.split(" ")[1].rsplit("_", 1)[0] for where in lines}
    graded = {gid.rsplit("_", 1)[0] for path in SOURCES
              for gid in graded_cells(nbformat.read(path, as_version=4))}
    assert answered == graded, f"exercises with nothing to look for: {sorted(graded - answered)}"


def notebook_text(raw: str) -> str:
    """What a notebook shows: its cells' sources and text outputs, decoded from the JSON (where
    quotes and newlines are escaped, so a search in the raw file would miss most code)."""
    nb = nbformat.reads(raw, as_version=4)
    parts = []
    for cell in nb.cells:
        parts.append(cell.source)
        for out in cell.get("outputs", []):
            parts.append(out.get("text", ""))
            parts.extend(v for k, v in out.get("data", {}).items() if k.startswith("text/"))
    return "\n".join(p if isinstance(p, str) else "".join(p) for p in parts)


def _leaks(text: str, lines: dict[str, str]) -> list[str]:
    text = text.lower()
    code = "\n".join(_code(line) for line in text.splitlines())
    return [where for where, answer in lines.items() if answer in text or answer in code]


def test_every_answer_is_found_in_the_answer_key():
    """The search the tests below rely on finds each answer where it is: in its source."""
    lines = answer_lines()
    for path in SOURCES:
        mine = {where for where in lines if where.startswith(path.name)}
        assert mine and set(_leaks(notebook_text(path.read_text()), lines)) >= mine, path.name


def test_student_zip_holds_no_answer(release):
    lines = answer_lines()
    with zipfile.ZipFile(release.parent / "student.zip") as zf:
        names = [n for n in zf.namelist() if n.endswith(".ipynb")]
        assert sorted(Path(n).name for n in names) == sorted(p.name for p in SOURCES)
        for name in names:
            leaks = _leaks(notebook_text(zf.read(name).decode()), lines)
            assert not leaks, f"{name} holds answers: {leaks}"


@pytest.mark.parametrize("chapter", SOURCES, ids=lambda p: p.stem)
def test_each_checker_follows_its_answer_and_no_cell_cites_a_file_students_lack(chapter):
    """A graded cell comes right after the answer it checks (not after a long section), and the
    handed-out notebooks never send a student to tests/, which the student zip does not hold."""
    cells = nbformat.read(chapter, as_version=4).cells
    for before, cell in zip(cells, cells[1:], strict=False):
        meta = cell.metadata.get("nbgrader", {})
        if meta.get("grade") and not meta.get("solution"):
            answered = before.metadata.get("nbgrader", {})
            assert answered.get("solution"), f"{meta['grade_id']} does not follow its answer"
            assert answered["grade_id"].rsplit("_", 1)[0] == meta["grade_id"].rsplit("_", 1)[0]
    cited = [c.source for c in cells if re.search(r"\btests/\w", c.source)]
    assert not cited, cited


def test_student_zip_says_how_to_install_and_open_the_course(release):
    """A student with only the zip: the README beside the notebooks names the hub, the install
    commands and the kernel the notebooks ask for."""
    with zipfile.ZipFile(release.parent / "student.zip") as zf:
        readme = zf.read("course/README.md").decode()
        kernel = nbformat.reads(zf.read(f"course/{SOURCES[0].name}").decode(), as_version=4)
    kernelspec = kernel.metadata["kernelspec"]
    assert f"--name {kernelspec['name']}" in readme
    assert f'--display-name "{kernelspec["display_name"]}"' in readme
    assert "python -m pip install" in readme and "jupyter lab" in readme and "hub" in readme
    assert "torch==2.13.0" in readme  # the pin the set-up installs (Makefile TORCH_VERSION)
    assert "TORCH_VERSION := 2.13.0" in (ROOT / "Makefile").read_text()
    assert SOURCES[0].name in readme  # where to start


def test_notebooks_folder_is_the_student_edition(release):
    """What `make lab` opens is nbgrader's student edition, cell for cell (outputs aside)."""
    lines = answer_lines()
    for path in SOURCES:
        mine = nbformat.read(ROOT / "notebooks" / path.name, as_version=4)
        theirs = nbformat.read(release / path.name, as_version=4)
        got = [(c.cell_type, c.get("id"), c.source) for c in mine.cells]
        want = [(c.cell_type, c.get("id"), c.source) for c in theirs.cells]
        for i, (g, w) in enumerate(zip(got, want, strict=False)):
            assert g == w, (f"notebooks/{path.name} cell {i} ({g[1]}) differs from the student "
                            f"edition of source/course/{path.name}: edit the source, then make "
                            "notebooks (or adopt the edit with source/sync_from_notebooks.py)")
        assert len(got) == len(want), path.name
        assert not _leaks(notebook_text((ROOT / "notebooks" / path.name).read_text()), lines)


def test_tests_hold_no_literal_answer():
    lines = answer_lines()
    for path in sorted((ROOT / "tests").glob("*.py")):
        leaks = _leaks(path.read_text(), lines)
        assert not leaks, f"{path.name} holds answers: {leaks}"


def _scores(course: Path, student: str, chapter: Path) -> tuple[float, float]:
    """(score, most it can score) of ``student``'s ``chapter`` in the gradebook."""
    from nbgrader.api import Gradebook

    with Gradebook(f"sqlite:///{course / 'build' / 'gradebook.db'}") as gb:
        sub = gb.find_submission_notebook(chapter.stem, "course", student)
        return sub.score, sub.max_score


def _submit(course: Path, student: str, chapters: list[Path]) -> None:
    """Hand in the student edition of ``chapters`` as ``student``: "filled" has the answer key's
    cells pasted into its answer cells, "empty" is handed in untouched."""
    released = course / "build" / "release" / "course"
    folder = course / "build" / "submitted" / student / "course"
    folder.mkdir(parents=True)
    for source_path in chapters:
        nb = nbformat.read(released / source_path.name, as_version=4)
        if student == "filled":
            key = graded_cells(nbformat.read(source_path, as_version=4))
            for cell in nb.cells:
                meta = cell.metadata.get("nbgrader", {})
                if meta.get("solution"):
                    cell.source = key[meta["grade_id"]].source
        nbformat.write(nb, folder / source_path.name)


def _points(chapters: list[Path]) -> float:
    """The marks the chapters' graded cells are worth, read from the sources' nbgrader metadata."""
    return sum(cell.metadata["nbgrader"].get("points", 0) for path in chapters
               for cell in graded_cells(nbformat.read(path, as_version=4)).values()
               if cell.metadata["nbgrader"].get("grade"))


def _assert_untouched_feedback(notebook: Path) -> None:
    """Every graded cell of an autograded untouched notebook says it was handed in untouched,
    and no cell ran (no output besides that verdict)."""
    nb = nbformat.read(notebook, as_version=4)
    graded = [c for c in nb.cells if c.metadata.get("nbgrader", {}).get("grade")]
    assert graded and all(
        [o.get("ename") for o in c.outputs] == ["NoAnswer"]
        and "handed in exactly as it was handed out" in c.outputs[0].evalue for c in graded)
    assert not [c for c in nb.cells if c not in graded and c.get("outputs")]


def test_an_untouched_chapter_would_score_zero_if_it_ran():
    """Grading an untouched submission without running it is sound: the student edition, run
    top to bottom (notebooks/, whose outputs nbval checks), shows every checker refusing, and a
    graded cell's hidden tests start with the checker's own `assert feedback`."""
    for path in sorted((ROOT / "notebooks").glob("[0-9]*.ipynb")):
        nb = nbformat.read(path, as_version=4)
        graded = [c for c in nb.cells if c.metadata.get("nbgrader", {}).get("grade")]
        assert graded, path.name
        for cell in graded:
            shown = "".join(str(o.get("data", {}).get("text/plain", "")) for o in cell.outputs)
            assert shown.startswith("❌ Not yet."), (path.name, shown[:200])
    for source in SOURCES:
        for cell in graded_cells(nbformat.read(source, as_version=4)).values():
            if cell.metadata["nbgrader"].get("grade"):
                hidden = cell.source.split("### BEGIN HIDDEN TESTS", 1)[1].strip()
                assert re.match(r"assert (\w+), \1\b", hidden), (source.name, hidden[:80])


class _Autograde:
    """nbgrader's own autograde on one chapter notebook: the answer key scores full marks, an
    empty notebook zero. One course and gradebook per notebook, and one `nbgrader autograde` for
    both submissions, so the notebook runs exactly twice (once per submission)."""

    notebook = ""  # the source's file name, set per class below

    @pytest.mark.slow
    def test_full_marks_for_the_key_and_zero_for_an_empty_notebook(self, generated, tmp_path):
        chapters = [p for p in SOURCES if p.name == self.notebook]
        course = copy_of(generated, tmp_path)
        for student in ("filled", "empty"):
            _submit(course, student, chapters)
        graded = nbgrader(course, "autograde", "course")  # every submission in build/submitted
        score, max_score = _scores(course, "filled", chapters[0])
        assert max_score == _points(chapters) > 0 and score == max_score, (score, max_score)
        assert _scores(course, "empty", chapters[0]) == (0, max_score)
        # The untouched one was graded without running (the filled one was run: full marks).
        log = graded.stdout + graded.stderr
        assert log.count("Handed in untouched") == 1, log[-2000:]
        assert "converted to" not in log  # a passed checker's verdict is no partial grade
        _assert_untouched_feedback(course / "build" / "autograded" / "empty" / "course"
                                   / self.notebook)


# One class per notebook (chapter 6 has two) rather than one parametrised function: `make test`
# distributes with `--dist loadscope`, which keeps a module's functions (parameters included) in
# one worker but sends each class to whichever worker is free, so the chapters autograde side by
# side. Every source notebook has graded cells (_points > 0 above), so each gets a class.
for _source in SOURCES:
    _name = "TestAutograde" + "".join(w.capitalize() for w in _source.stem.split("_"))
    globals()[_name] = type(_name, (_Autograde,), {"notebook": _source.name})


def _grading_config() -> dict:
    """nbgrader_config.py's names, read as nbgrader reads the file (it defines the grading
    preprocessors)."""
    import runpy

    from traitlets.config import Config

    return runpy.run_path(str(ROOT / "nbgrader_config.py"), init_globals={"get_config": Config})


def _hidden_lines(chapter: Path) -> list[str]:
    """Every line inside a hidden-test region of ``chapter``'s graded cells."""
    lines, inside = [], False
    for cell in graded_cells(nbformat.read(chapter, as_version=4)).values():
        for line in cell.source.splitlines():
            if line.strip() in ("### BEGIN HIDDEN TESTS", "### END HIDDEN TESTS"):
                inside = line.strip() == "### BEGIN HIDDEN TESTS"
            elif inside and line.strip():
                lines.append(line.strip())
    return lines


def test_feedback_says_what_failed_without_quoting_a_hidden_test():
    """The feedback preprocessor: hidden lines leave the source and the traceback; the checker's
    verdict stays; a hidden assertion without a message says a hidden test failed."""
    config = _grading_config()
    quoted = ["Cell In[3], line 4", "----> 4 assert x == 39", "AssertionError: "]

    def feedback_of(evalue: str) -> nbformat.NotebookNode:
        cell = nbformat.v4.new_code_cell(
            "verdict = checks.check(x)\n### BEGIN HIDDEN TESTS\nassert verdict, verdict\n"
            "assert x == 39\n### END HIDDEN TESTS\nverdict",
            metadata={"nbgrader": {"grade": True, "grade_id": "ex", "points": 1,
                                   "solution": False, "locked": True, "schema_version": 3}})
        cell.outputs = [nbformat.v4.new_output("error", ename="AssertionError", evalue=evalue,
                                               traceback=quoted)]
        nb = nbformat.v4.new_notebook(cells=[cell])
        nb, _ = config["ClearHiddenTestsFromFeedback"]().preprocess(nb, {})
        return nb.cells[0]

    out = feedback_of("")
    assert out.source == "verdict = checks.check(x)\nverdict"
    assert "x == 39" not in str(out.outputs) and "HIDDEN" not in str(out.outputs)
    assert out.outputs[0].traceback == ["AssertionError: " + config["FAILED_HIDDEN_TEST"]]
    # The checker's verdict is the message the student saw in the notebook: it stays.
    out = feedback_of("❌ Not yet. Hint: …")
    assert out.outputs[0].traceback == ["AssertionError: ❌ Not yet. Hint: …"]


def test_a_checkers_verdict_is_displayed_not_read_as_a_partial_grade():
    """Issue 23: autograding warned "Cell output is ✅ Correct. …, which cannot be converted to a
    float" for every passed checker. nbgrader reads a graded cell's *result* (execute_result) as
    a partial grade; a checker cell ends with ``feedback``, a verdict to show. The verdict now
    displays itself (display_data), so nbgrader grades the passed cell full marks, silently."""
    import logging

    from nbclient import NotebookClient
    from nbgrader.utils import determine_grade

    cell = nbformat.v4.new_code_cell(
        "from omteach.exercises import correct\nverdict = correct('39 it is')\n"
        "assert verdict, verdict\nverdict",
        metadata={"nbgrader": {"grade": True, "grade_id": "ex", "points": 2, "solution": False,
                               "locked": True, "schema_version": 3}})
    nb = nbformat.v4.new_notebook(cells=[cell])
    NotebookClient(nb, kernel_name="python3", timeout=60,
                   resources={"metadata": {"path": str(ROOT)}}).execute()
    outputs = nb.cells[0].outputs
    assert [o.output_type for o in outputs] == ["display_data"]
    assert outputs[0].data["text/plain"].startswith("✅ Correct. 39 it is")
    assert "✅ Correct" in outputs[0].data["text/html"]
    warned: list[str] = []
    log = logging.getLogger("test-grade")
    log.addHandler(type("H", (logging.Handler,), {"emit": lambda self, r: warned.append(
        r.getMessage())})())
    assert determine_grade(nb.cells[0], log) == (2, 2) and warned == []


class TestGradingQuietly:
    """An untouched chapter 2 is graded zero without a warning and its feedback shows no hidden
    test; a submission that edited a locked graded cell is still reported and put right. (That
    the answer key's full marks come without a "cannot be converted to a float" warning is
    checked for every chapter by _Autograde, which runs the key anyway.)"""

    @pytest.mark.slow
    def test_untouched_is_zero_quietly_and_feedback_hides_the_hidden_tests(self, generated,
                                                                          tmp_path):
        chapter = next(p for p in SOURCES if p.name.startswith("02_"))
        course = copy_of(generated, tmp_path)
        _submit(course, "empty", [chapter])
        _submit(course, "cheat", [chapter])
        cheat = course / "build" / "submitted" / "cheat" / "course" / chapter.name
        nb = nbformat.read(cheat, as_version=4)
        check = next(c for c in nb.cells if c.metadata.get("nbgrader", {}).get("grade_id")
                     == "ch02_ex1_predictions_check")
        check.source = "feedback = True  # the checker, edited away"
        nbformat.write(nb, cheat)

        graded = nbgrader(course, "autograde", "course")
        log = graded.stdout + graded.stderr
        assert _scores(course, "empty", chapter) == (0, _points([chapter]))
        assert _scores(course, "cheat", chapter) == (0, _points([chapter]))  # checker came back
        changed = [line for line in log.splitlines() if "has changed" in line]
        assert changed and all("ch02_ex1_predictions_check" in line for line in changed), changed

        feedback = nbgrader(course, "generate_feedback", "course")
        assert "WARNING" not in feedback.stdout + feedback.stderr
        html = (course / "build" / "feedback" / "empty" / "course"
                / chapter.with_suffix(".html").name).read_text()
        text = re.sub(r"<[^>]+>", "", html).replace("&quot;", '"').replace("&#39;", "'")
        # The checker's own assertion is no secret (its verdict is what the student saw).
        hidden = [line for line in _hidden_lines(chapter) if "feedback" not in line]
        assert hidden and not [line for line in hidden if line in text]
        assert "HIDDEN TESTS" not in text
        assert "handed in exactly as it was handed out" in text  # why it scored nothing
        _assert_untouched_feedback(course / "build" / "autograded" / "empty" / "course"
                                   / chapter.name)


def test_sync_adopts_lesson_edits_and_keeps_the_solutions(tmp_path):
    """source/sync_from_notebooks.py: a lesson cell edited in notebooks/ reaches the source; the
    source's answer and graded cells (solutions, hidden tests) survive; a lost graded cell stops
    it."""
    import importlib.util

    script = ROOT / "source" / "sync_from_notebooks.py"
    spec = importlib.util.spec_from_file_location("sync", script)
    sync = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(sync)
    chapter = next(p for p in SOURCES if p.name.startswith("02_"))
    source = tmp_path / "source.ipynb"
    shutil.copy(chapter, source)
    student = nbformat.read(ROOT / "notebooks" / chapter.name, as_version=4)
    lesson = next(c for c in student.cells if c.cell_type == "markdown")
    lesson.source += "\n\nA sentence added in JupyterLab."
    nbformat.write(student, tmp_path / "student.ipynb")

    kept = sync.sync(tmp_path / "student.ipynb", source)
    synced = nbformat.read(source, as_version=4)
    original = graded_cells(nbformat.read(chapter, as_version=4))
    assert sorted(kept) == sorted(original)
    assert "A sentence added in JupyterLab." in synced.cells[0].source
    before = {gid: c.source for gid, c in original.items()}
    after = {gid: c.source for gid, c in graded_cells(synced).items()}
    assert after == before and any("### BEGIN SOLUTION" in s for s in after.values())
    assert all(not c.get("outputs") for c in synced.cells)

    student.cells = [c for c in student.cells if "nbgrader" not in c.metadata][:-1]
    nbformat.write(student, tmp_path / "student.ipynb")
    with pytest.raises(SystemExit, match="lost the graded cells"):
        sync.sync(tmp_path / "student.ipynb", source)
