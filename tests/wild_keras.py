"""Where the corpus of real users' Keras files lives: ../shared/wild_keras beside the repository.

It is read in place, never copied into the project. XORNET_WILD_KERAS names
another place (a git worktree sits elsewhere than the main repository).
"""

import os
from pathlib import Path

import pytest

WILD = Path(os.environ.get("XORNET_WILD_KERAS") or Path(__file__).parents[1].parent / "shared" / "wild_keras")


def wild_dir() -> Path:
    """The corpus folder; skips the calling test when it is absent."""
    if not (WILD / "oracle.json").is_file():
        pytest.skip(f"the corpus of real Keras files is absent: no {WILD}/oracle.json "
                    "(set XORNET_WILD_KERAS to its folder)")
    return WILD
