"""nbgrader configuration of the course. nbgrader reads it from this folder: the grading entry
point (grade.py) runs every nbgrader command with this folder as its working directory.

Paths: sources in solutions/, releases in notebooks/, everything a grading run writes
(submitted/, autograded/, feedback/, gradebook.db) under autograder/ and git-ignored.
Set the environment variable RNNLAB_GRADEBOOK_URL (e.g. postgresql://user@host/db) to use
another database than the SQLite file.
"""

import os
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

import nbgrader.preprocessors as pre  # noqa: E402
from nbconvert.preprocessors import ClearMetadataPreprocessor, CSSHTMLHeaderPreprocessor  # noqa: E402
from preprocessors import StderrIsNotFailure  # noqa: E402

c = get_config()  # noqa: F821 (provided by nbgrader when it loads this file)

c.CourseDirectory.root = str(HERE.parent)
c.CourseDirectory.source_directory = "solutions"
c.CourseDirectory.release_directory = "notebooks"
c.CourseDirectory.submitted_directory = "autograder/submitted"
c.CourseDirectory.autograded_directory = "autograder/autograded"
c.CourseDirectory.feedback_directory = "autograder/feedback"
c.CourseDirectory.db_url = os.environ.get("RNNLAB_GRADEBOOK_URL",
                                          f"sqlite:///{HERE / 'gradebook.db'}")
c.CourseDirectory.course_id = "rnn-nlp"

# A cell may run this long before it is interrupted and counted as failed: the slowest graded
# check (sampling, 9000 draws) takes a few seconds on a laptop; 120 s leaves room for slow
# machines without letting an infinite loop hold the whole batch.
c.Execute.timeout = 120
c.Execute.interrupt_on_timeout = True

# A student who deleted a graded cell gets it back (and its tests run) instead of an error.
c.OverwriteCells.add_missing_cells = True

# nbgrader counts any text on stderr as a failed test; torch and numpy print warnings there.
# nbgrader's default steps, with StderrIsNotFailure right after the execution.
c.Autograde.autograde_preprocessors = [
    pre.Execute, StderrIsNotFailure, pre.IgnorePattern, ClearMetadataPreprocessor,
    pre.LimitOutput, pre.SaveAutoGrades, pre.AssignLatePenalties, pre.CheckCellMetadata]

# Feedback never shows the hidden tests.
c.GenerateFeedback.preprocessors = [pre.ClearHiddenTests, pre.GetGrades, CSSHTMLHeaderPreprocessor]
