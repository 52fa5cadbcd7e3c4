"""Broken manifests must fail: each fixture carries one defect and names, in its first line, the
problem the validation must report (`# expect: ...`)."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.support.knative.manifests import load_file
from tests.support.knative.validate import problems

FIXTURES = Path(__file__).parent / "fixtures"
REQUIRED = {  # the four, which must always be among the fixtures
    "container_field_typo.yaml",
    "unknown_autoscaling_annotation.yaml",
    "visibility_typo.yaml",
    "bad_backoff_policy.yaml",
}


def test_the_required_negative_fixtures_exist() -> None:
    assert {path.name for path in FIXTURES.glob("*.yaml")} >= REQUIRED


@pytest.mark.parametrize("fixture", sorted(FIXTURES.glob("*.yaml")), ids=lambda p: p.stem)
def test_a_broken_manifest_fails_with_the_expected_problem(
    fixture: Path, crds_folder: Path
) -> None:
    first = fixture.read_text().splitlines()[0]
    assert first.startswith("# expect: ")
    expected = first.removeprefix("# expect: ")
    (manifest,) = load_file(fixture)
    found = problems(manifest, crds_folder)
    assert any(expected in problem for problem in found), found
