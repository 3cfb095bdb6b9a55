"""nbgrader's settings for the course (read by `make student`, `make answers` and nbgrader itself).

The instructor sources (solutions and hidden tests) are source/course/*.ipynb; everything nbgrader
generates goes under build/, never next to the sources. The student edition in notebooks/ is a
copy of build/release/course/ (see the Makefile), so the course `make lab` opens has no solutions.
"""

from pathlib import Path

c = get_config()  # noqa: F821 (nbgrader defines get_config when it reads this file)

HERE = Path(__file__).resolve().parent

c.CourseDirectory.course_id = "omteach"
c.CourseDirectory.root = str(HERE)
c.CourseDirectory.source_directory = "source"
c.CourseDirectory.release_directory = "build/release"
c.CourseDirectory.submitted_directory = "build/submitted"
c.CourseDirectory.autograded_directory = "build/autograded"
c.CourseDirectory.feedback_directory = "build/feedback"
# The gradebook (which student scored what) lives in build/ too; sqlite needs the folder to exist.
(HERE / "build").mkdir(exist_ok=True)
c.CourseDirectory.db_url = f"sqlite:///{HERE / 'build' / 'gradebook.db'}"

# What a solution region becomes in the student edition: a comment, not nbgrader's default
# `raise NotImplementedError()`, so that Run All goes through the whole chapter (each checker then
# says "No answer yet") and nbval can compare the student edition's outputs.
c.ClearSolutions.code_stub = {"python": "# your code here"}
c.ClearSolutions.text_stub = "YOUR ANSWER HERE"

# A chapter's longest cells (a training round, the attack lab) take more than nbgrader's default
# 30 s per cell when a class's notebooks are autograded on a shared machine.
c.Execute.timeout = 600


# -- Grading quietly, and feedback that does not give the hidden tests away ---------------------
# Imported here, not at the top: only nbgrader reads this file, and only nbgrader needs them.
from nbconvert.preprocessors import CSSHTMLHeaderPreprocessor  # noqa: E402
from nbformat import from_dict  # noqa: E402
from nbgrader.converters import Autograde  # noqa: E402
from nbgrader.coursedir import CourseDirectory  # noqa: E402
from nbgrader.preprocessors import (  # noqa: E402
    CheckCellMetadata,
    ClearHiddenTests,
    ClearOutput,
    DeduplicateIds,
    Execute,
    GetGrades,
    NbGraderPreprocessor,
    OverwriteCells,
    OverwriteKernelspec,
)
from nbgrader.utils import is_grade, is_locked  # noqa: E402
from traitlets import List  # noqa: E402

FAILED_HIDDEN_TEST = (
    "A hidden test of this exercise failed, so it scored no points: the checker above accepted "
    "your answer, and a second check that is kept hidden (so that it cannot be copied) did not. "
    "Read the exercise again for a case your answer does not cover.")
"""What the feedback says where a hidden assertion without a message of its own failed."""


def _without_hidden_tests(source: str) -> str:
    """A cell's source as the student edition has it: every hidden-test region removed."""
    node = from_dict({"source": source, "cell_type": "code", "metadata": {}})
    ClearHiddenTests(enforce_metadata=False)._remove_hidden_test_region(node)
    return node.source


class RestoreHiddenTestsQuietly(OverwriteCells):
    """nbgrader's OverwriteCells, without a false alarm per graded cell.

    A locked graded cell is handed out without its hidden tests, so its source never matches the
    gradebook's, and nbgrader warns "Attribute 'checksum' ... has changed!" for every graded cell
    of every submission, an untouched one included (15 warnings for the course). Where the
    student's cell is exactly the handed-out cell, the hidden tests are put back here first and
    nbgrader has nothing to report; a cell the student really edited is still reported and
    overwritten by nbgrader as before.
    """

    def preprocess_cell(self, cell, resources, cell_index):
        """Put the hidden tests back into an unchanged locked graded cell, then let nbgrader
        check the cell as usual."""
        grade_id = cell.metadata.get("nbgrader", {}).get("grade_id")
        if grade_id is not None and is_grade(cell) and is_locked(cell):
            try:
                original = self.gradebook.find_source_cell(
                    grade_id, self.notebook_id, self.assignment_id).source
            except Exception:  # unknown to the gradebook: nbgrader's own handling says so
                original = None
            if original is not None and cell.source == _without_hidden_tests(original):
                cell.source = original
        return super().preprocess_cell(cell, resources, cell_index)


class ClearHiddenTestsFromFeedback(ClearHiddenTests):
    """Feedback without the hidden tests: their source is removed from every graded cell, and a
    graded cell's error is reduced to what failed, without the traceback that would quote the
    hidden lines around it.

    The checker's own verdict (``assert feedback, feedback``) stays: it is the message the
    student already saw in the notebook. A hidden assertion with no message becomes
    :data:`FAILED_HIDDEN_TEST`.
    """

    # HTMLExporter configures this for every nbconvert class; declared configurable (and unused)
    # so that generate_feedback does not warn that this preprocessor ignores it.
    display_data_priority = List(config=True)

    def preprocess_cell(self, cell, resources, cell_index):
        """Remove the cell's hidden-test region and, if it had one, quote no source in its
        errors."""
        had_hidden = self.begin_test_delimeter in cell.source
        cell, resources = super().preprocess_cell(cell, resources, cell_index)
        if had_hidden and cell.cell_type == "code":
            for output in cell.outputs:
                if output.output_type == "error":
                    said = output.evalue.strip() or FAILED_HIDDEN_TEST
                    output.evalue = said
                    output.traceback = [f"{output.ename}: {said}"]
        return cell, resources


UNTOUCHED = "omteach_untouched"
"""The notebook-metadata flag MarkUntouched sets and GradeUntouchedWithoutRunning reads."""

UNTOUCHED_FEEDBACK = (
    "No answer: this notebook was handed in exactly as it was handed out, so this exercise "
    "scored no points (it was not run). Write your answer in the cell above the checker, "
    "re-run it, save, and submit again.")
"""What every graded cell of an untouched submission says in the feedback."""


class MarkUntouched(NbGraderPreprocessor):
    """Flag a submission whose cells are exactly the handed-out notebook's (same kinds, same
    sources; outputs do not count), before the hidden tests are put back.

    Such a notebook holds no answer: every checker says "No answer yet" on it (the student
    edition in notebooks/ is executed and compared by nbval, and a test reads those verdicts),
    so running it can only score zero. Grading it without running saves a kernel and a full
    chapter's run per untouched submission, which in a class is most submissions of a chapter
    not yet started. A notebook with any cell added, removed or edited is run as usual.
    """

    def preprocess(self, nb, resources):
        """Set the flag when the release folder's copy of this notebook has the same cells."""
        ids = resources.get("nbgrader", {})
        course = CourseDirectory(config=self.config)
        released = Path(course.format_path(course.release_directory, ".", ids.get(
            "assignment", ""))) / f"{ids.get('notebook', '')}.ipynb"
        if released.is_file():
            from nbformat import read

            handed_out = read(released, as_version=4)
            cells = [(c.cell_type, c.source) for c in nb.cells]
            if cells == [(c.cell_type, c.source) for c in handed_out.cells]:
                nb.metadata[UNTOUCHED] = True
        return nb, resources


class GradeUntouchedWithoutRunning(Execute):
    """nbgrader's Execute, except for a submission MarkUntouched flagged: its graded cells get an
    error output saying that nothing was answered (nbgrader scores a graded cell with an error
    zero), and no kernel is started."""

    def preprocess(self, nb, resources, *args, **kwargs):
        """Run the notebook, or mark every graded cell of an untouched one unanswered."""
        if not nb.metadata.pop(UNTOUCHED, False):
            return super().preprocess(nb, resources, *args, **kwargs)
        self.log.info("Handed in untouched: graded zero without running it")
        for cell in nb.cells:
            if cell.cell_type == "code" and is_grade(cell):
                cell.outputs = [from_dict({"output_type": "error", "ename": "NoAnswer",
                                           "evalue": UNTOUCHED_FEEDBACK,
                                           "traceback": [f"NoAnswer: {UNTOUCHED_FEEDBACK}"]})]
        return nb, resources


c.Autograde.sanitize_preprocessors = [ClearOutput, DeduplicateIds, OverwriteKernelspec,
                                      MarkUntouched, RestoreHiddenTestsQuietly,
                                      CheckCellMetadata]
# nbgrader's own list, with Execute replaced by the one that skips untouched submissions.
c.Autograde.autograde_preprocessors = [
    GradeUntouchedWithoutRunning if step is Execute else step
    for step in Autograde.class_traits()["autograde_preprocessors"].default()]
c.GenerateFeedback.preprocessors = [GetGrades, ClearHiddenTestsFromFeedback,
                                    CSSHTMLHeaderPreprocessor]
