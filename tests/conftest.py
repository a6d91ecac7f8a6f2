"""Test session settings: no network, a private Hugging Face home, the shared real data."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

import pytest

# Before anything imports huggingface_hub / datasets: offline, and a temporary HF home.
_HF_HOME = tempfile.mkdtemp(prefix="text2imu-hf-")
os.environ["HF_HUB_OFFLINE"] = "1"
os.environ["HF_DATASETS_OFFLINE"] = "1"
os.environ["TRANSFORMERS_OFFLINE"] = "1"
os.environ["HF_HOME"] = _HF_HOME
os.environ.setdefault("MPLBACKEND", "Agg")

REPO_ROOT = Path(__file__).resolve().parents[1]
SHARED_DATA = REPO_ROOT.parent / "shared" / "data"


@pytest.fixture(scope="session")
def shared_data() -> Path:
    """../shared/data (the real data beside the repository); skips when it is not there."""
    if not SHARED_DATA.is_dir():
        pytest.skip(f"real data folder {SHARED_DATA} not found (it sits beside the repository in CI)")
    return SHARED_DATA


@pytest.fixture(scope="session")
def humanml3d_sample(shared_data: Path) -> Path:
    return shared_data / "humanml3d"


@pytest.fixture(scope="session")
def hapt(tmp_path_factory) -> Path:
    """UCI HAPT zips in the official layout (fixtures/real_datasets.py): subjects 1, 2 (lying and walking
    only) and 21."""
    from fixtures.real_datasets import write_hapt_zips

    return write_hapt_zips(tmp_path_factory.mktemp("hapt"))


@pytest.fixture(scope="session")
def corpus(tmp_path_factory) -> Path:
    """A small corpus folder with separable activity signals (fixtures/corpus_fixture.py), read-only."""
    from fixtures.corpus_fixture import write_corpus_fixture

    return write_corpus_fixture(tmp_path_factory.mktemp("corpus") / "fixture-corpus", prompts_per_activity=2,
                                repetitions=1)
