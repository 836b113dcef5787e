"""Shared fixtures of the project-level tests (site, releases, grading pipeline)."""

import shutil

import pytest

from autograder import batch


@pytest.fixture(scope="session")
def course_copy(tmp_path_factory):
    """A fresh gradebook with every assignment released into it (a release folder of its own,
    so the committed notebooks/ are not touched): (nbgrader config factory, folder). Each
    workdir the factory is given grades into a copy of that gradebook of its own
    (workdir/gradebook.db), so one test's students are not in another's export."""
    work = tmp_path_factory.mktemp("course")
    db_url = f"sqlite:///{work / 'gradebook.db'}"
    batch.release(batch.nbgrader_config(db_url=db_url, release_dir=work / "release"))

    def config(workdir, **execute):
        workdir.mkdir(parents=True, exist_ok=True)
        own = workdir / "gradebook.db"
        if not own.exists():
            shutil.copyfile(work / "gradebook.db", own)
        return batch.nbgrader_config(db_url=f"sqlite:///{own}", workdir=workdir, **execute)

    return config, work
