"""The course's autograder: nbgrader, with every submission run in a sandbox and scored by a
trusted verification.

From ``make grade`` to a row of grades.csv, in the order the data passes through:

- ``__main__``     the command line (``python -m autograder release|grade|demo``)
- ``batch``        the run: one nbgrader autograde per submission (serially, in processes, on
                   Dask), then nbgrader's feedback and grades.csv
- nbgrader's ``Autograde``, configured by the course root's ``nbgrader_config.py``, runs per
  submission:
  - ``submission`` reads the file whatever state it is in, compares its cells with the release's
  - ``kernel``     runs the notebook in the sandbox (``sandbox``: bubblewrap and limits;
                   ``guarded``: the copy of rnnlab it sees, from the module files in ``inside/``)
  - ``verify``     judges the answers the test cells recorded, against rnnlab's references
  - ``gradebook``  saves the comments (nbgrader's SaveAutoGrades saves the scores)
- ``gradebook.export`` writes grades.csv.

``course`` states the course's facts (paths, chapters, gradebook); ``demo`` makes submissions
from the sources (the demo class, the tests).
"""
