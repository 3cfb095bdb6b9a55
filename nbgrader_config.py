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
