"""Shared setup of the Python tests: the source tree and the plena binary (set by ctest)."""
import os
import subprocess
from pathlib import Path

SOURCE_DIR = Path(os.environ.get("PLENA_SOURCE_DIR", Path(__file__).resolve().parents[2]))
PLENA = os.environ.get("PLENA_BINARY", "plena")


def cli(*args: str) -> str:
    """Runs the plena binary; its stdout (raises on a non-zero exit)."""
    return subprocess.run([PLENA, *args], check=True, capture_output=True, text=True).stdout
