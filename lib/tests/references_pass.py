"""The test every chapter's check module has: the library's own function for each part passes
every case of its check, visible and hidden. A chapter's test module writes

    test_references_pass_every_case = references_pass_every_case(REFERENCES)

with ``REFERENCES`` its {check name: the library's function}."""

import pytest

from rnnlab.checks import check


def references_pass_every_case(references: dict):
    @pytest.mark.parametrize("name", sorted(references))
    @pytest.mark.parametrize("hidden", [False, True])
    def test(name, hidden, capsys):
        check(name, references[name], hidden=hidden)
        assert f"passed {name}" in capsys.readouterr().out
    return test
