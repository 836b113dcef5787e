"""Module files that the grader installs into the guarded rnnlab copy (``guarded.py``): the code
that runs inside the sandbox. They are never imported by the grader itself."""
