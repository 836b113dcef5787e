"""Shared fixtures of the project-level tests (site, releases, grading pipeline)."""

import pytest

from autograder import batch


@pytest.fixture(scope="session")
def course_copy(tmp_path_factory):
    """A fresh gradebook with every assignment released into it (a release folder of its own,
    so the committed notebooks/ are not touched): (nbgrader config factory, folder)."""
    work = tmp_path_factory.mktemp("course")
    db_url = f"sqlite:///{work / 'gradebook.db'}"
    batch.release(batch.nbgrader_config(db_url=db_url, release_dir=work / "release"))

    def config(workdir, **execute):
        return batch.nbgrader_config(db_url=db_url, workdir=workdir, **execute)

    return config, work
