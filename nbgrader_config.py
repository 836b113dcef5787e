"""nbgrader's configuration of the course. nbgrader reads it from the course root (this folder)
whatever runs it: `nbgrader autograde 01_ngram` typed here, formgrader's buttons on JupyterHub,
or `make grade`, which runs nbgrader's own autograde once per submission. So every submission
goes through the same steps, and every line below has the effect it says.

The grading path, in the order a submission passes through it (each step is one class; the
modules say more):
  1. autograder.submission.SubmissionExporter  read the file whatever state it is in
  2. autograder.submission.DescribeStructure   compare its cells with the release's, note repairs
  3. nbgrader's ClearOutput, OverwriteKernelspec, OverwriteCells, CheckCellMetadata
  4. autograder.kernel.SandboxedExecute        run every cell in the bubblewrap sandbox; the test
                                               cells record the answers of every case
  5. autograder.verify.Verify                  judge the answers against rnnlab's references
  6. nbgrader's ClearMetadata, LimitOutput, SaveAutoGrades (the scores), then
     autograder.gradebook.SaveComments (why a point was lost), AssignLatePenalties, CheckCellMetadata
"""

from nbconvert.preprocessors import ClearMetadataPreprocessor, CSSHTMLHeaderPreprocessor

import nbgrader.preprocessors as nbg
from autograder import course, feedback
from autograder.gradebook import SaveComments
from autograder.kernel import SandboxedExecute
from autograder.submission import DescribeStructure, SubmissionExporter
from autograder.verify import VERDICTS, Verify

c = get_config()  # noqa: F821 (provided by nbgrader when it loads this file)

c.CourseDirectory.root = str(course.ROOT)
c.CourseDirectory.source_directory = str(course.SOLUTIONS.relative_to(course.ROOT))
c.CourseDirectory.release_directory = str(course.RELEASES.relative_to(course.ROOT))
c.CourseDirectory.submitted_directory = str(course.SUBMITTED.relative_to(course.ROOT))
c.CourseDirectory.autograded_directory = str(course.AUTOGRADED.relative_to(course.ROOT))
c.CourseDirectory.feedback_directory = str(course.FEEDBACK.relative_to(course.ROOT))
# the SQLite file autograder/gradebook.db, or $RNNLAB_GRADEBOOK_URL (a PostgreSQL database)
c.CourseDirectory.db_url = course.gradebook_url()
c.CourseDirectory.course_id = "rnn-nlp"
# Files never copied between the course's folders: the grader's verdicts beside an autograded
# notebook (a submitted file of that name is not taken in; the feedback does not carry it).
c.CourseDirectory.ignore = [".ipynb_checkpoints", "*.pyc", "__pycache__", "feedback", VERDICTS]

# Collecting a course-management system's bulk download (`nbgrader zip_collect NN_slug`): its zip
# files go in autograder/downloaded/NN_slug/archive/; each entry is named the way Moodle names
# them, "<full name>_<student id>_assignsubmission_file_<file name>".
c.ZipCollectApp.downloaded_directory = str(course.DOWNLOADED.relative_to(course.ROOT))
c.FileNameCollectorPlugin.named_regexp = r"^.*_(?P<student_id>[^_/]+)_assignsubmission_file_(?P<file_id>[^/]+)$"

c.Autograde.exporter_class = SubmissionExporter
# (DescribeStructure also does DeduplicateIds's job: that one leaves cells that OverwriteCells
# cannot read when add_missing_cells is on.)
c.Autograde.sanitize_preprocessors = [
    DescribeStructure, nbg.ClearOutput, nbg.OverwriteKernelspec, nbg.OverwriteCells,
    nbg.CheckCellMetadata]
# A student who deleted a test cell gets it back (and its checks run) instead of an error.
c.OverwriteCells.add_missing_cells = True
c.Autograde.autograde_preprocessors = [
    SandboxedExecute, Verify, ClearMetadataPreprocessor, nbg.LimitOutput, nbg.SaveAutoGrades,
    SaveComments, nbg.AssignLatePenalties, nbg.CheckCellMetadata]

# Seconds an ordinary cell may run before it is interrupted; a test cell gets this plus its
# check's time limit for each of its cases (the limits the notebook states next to each check).
c.SandboxedExecute.timeout = 60
# The sandbox's limits for one notebook (see autograder/kernel.py for each).
c.SandboxedExecute.memory_mb = 2048
c.SandboxedExecute.pids = 64
c.SandboxedExecute.output_kb = 1024
c.SandboxedExecute.wall_s = 300

# Feedback never shows the hidden tests; it is one HTML file that typesets the formulas offline
# and wraps long lines (autograder/feedback.py).
c.GenerateFeedback.preprocessors = [nbg.ClearHiddenTests, nbg.GetGrades, CSSHTMLHeaderPreprocessor]
c.HTMLExporter.extra_template_basedirs = [str(feedback.TEMPLATES), feedback.nbgrader_templates()]
c.HTMLExporter.filters = {"mathjax_source": feedback.mathjax_source}
