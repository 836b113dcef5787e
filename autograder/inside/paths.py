"""Where things are for code in the sandbox: the mount points of the sandbox and the names of
the environment variables that tell the guarded rnnlab where the cases are and where to record
answers (stated once: the sandbox imports them, and the guarded copy carries this file as
``rnnlab/checks/_paths.py``)."""

HOME = "/home/student"
GUARDED_MOUNT = "/opt/rnnlab"
CASES_MOUNT = "/grader/cases"
RECORDS_MOUNT = "/grader/records"
CASES_VARIABLE = "RNNLAB_GRADER_CASES"
RECORDS_VARIABLE = "RNNLAB_GRADER_RECORDS"
