"""The Dockerfile and .dockerignore, read as text: what the image build promises even where no
image can be built (tests/e2e/images builds and runs them)."""

from __future__ import annotations

import json
import re

from tests.support.processes import ROOT

DOCKERFILE = ROOT.joinpath("Dockerfile").read_text()
STAGES = DOCKERFILE.split("\nFROM ")[1:]


def instructions(stage: str, keyword: str) -> list[str]:
    return re.findall(rf"^{keyword} (.+)$", stage, re.MULTILINE)


def test_the_base_is_a_build_argument_defaulting_to_python_3_12_slim() -> None:
    assert "ARG PYTHON_IMAGE=python:3.12-slim-bookworm" in DOCKERFILE
    assert [stage.split()[0] for stage in STAGES] == ["${PYTHON_IMAGE}", "${PYTHON_IMAGE}"]


def test_the_runtime_stage_runs_as_a_numeric_user_with_an_exec_form_entrypoint() -> None:
    runtime = STAGES[-1]
    (user,) = instructions(runtime, "USER")
    assert re.fullmatch(r"[1-9]\d*:[1-9]\d*", user)
    assert instructions(runtime, "STOPSIGNAL") == ["SIGTERM"]
    (entrypoint,) = instructions(runtime, "ENTRYPOINT")
    assert json.loads(entrypoint) == ["/opt/venv/bin/shop-serve"]
    assert "COPY --from=build /opt/venv /opt/venv" in runtime
    assert "uv" not in " ".join(instructions(runtime, "RUN"))
    labels = runtime[runtime.index("\nLABEL ") : runtime.index("\nENV SHOP_SERVICE")]
    for key in ("title", "version", "revision", "created", "source", "licenses"):
        assert f"org.opencontainers.image.{key}=" in labels


def test_the_builder_installs_the_hashed_runtime_lock_only() -> None:
    build = STAGES[0]
    assert "--require-hashes" in build
    assert "-r requirements-runtime.lock" in build
    assert "requirements.lock" not in build.replace("requirements-runtime.lock", "")


def test_dockerignore_admits_exactly_what_the_build_copies() -> None:
    lines = [
        line.strip()
        for line in ROOT.joinpath(".dockerignore").read_text().splitlines()
        if line.strip() and not line.startswith("#")
    ]
    assert lines[0] == "*"
    admitted = {line[1:].rstrip("/") for line in lines if line.startswith("!")}
    copied = {
        source
        for copy in instructions(STAGES[0], "COPY")
        for source in copy.split()[:-1]
        if not source.startswith("--")
    }
    assert copied == admitted
    assert not any(name in admitted for name in ("tests", ".git", ".venv", ".data", "knative"))
