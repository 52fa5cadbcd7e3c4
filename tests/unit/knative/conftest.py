from __future__ import annotations

from pathlib import Path

import pytest

from tests.support.knative import crds, manifests
from tests.support.knative.manifests import Manifest


@pytest.fixture(scope="session")
def crds_folder() -> Path:
    return crds.crds_folder()


@pytest.fixture(scope="session")
def files() -> list[Manifest]:
    return manifests.all_files()


@pytest.fixture(scope="session")
def rendered() -> list[Manifest]:
    return manifests.render()
