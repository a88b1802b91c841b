"""The SageMaker and Vertex examples' --help says what they need: the extra, and where credentials
(and for SageMaker the region) come from."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

EXAMPLES = Path(__file__).resolve().parents[1] / "examples"


def help_text(script: str) -> str:
    command = [sys.executable, str(EXAMPLES / script), "--help"]
    done = subprocess.run(command, capture_output=True, text=True, timeout=60, check=False)
    assert done.returncode == 0, done.stderr
    return " ".join(done.stdout.split())  # argparse's line breaks aside


@pytest.mark.parametrize(
    ("script", "needs"),
    [
        (
            "sagemaker_chat.py",
            ["pip install 'llmgateway[aws]'", "AWS_ACCESS_KEY_ID", "AWS_PROFILE", "AWS_REGION",
             "AWS_DEFAULT_REGION", "instance role"],
        ),
        (
            "vertex_chat.py",
            ["pip install 'llmgateway[gcp]'", "gcloud auth application-default login",
             "GOOGLE_APPLICATION_CREDENTIALS", "VERTEX_ACCESS_TOKEN"],
        ),
    ],
)  # fmt: skip
def test_help_says_what_the_example_needs(script: str, needs: list[str]) -> None:
    text = help_text(script)
    assert [need for need in needs if need not in text] == []
