"""Check what the wheel and the sdist in DIST hold (run by .ci/wheel.sh)."""

import sys
import tarfile
import zipfile
from pathlib import Path


def check_wheel(wheel: Path) -> None:
    """The wheel holds the package (with py.typed and the licence) and nothing else."""
    names = zipfile.ZipFile(wheel).namelist()
    outside = [n for n in names if not n.startswith(("scdeepclust/", "scdeepclust-"))]
    assert not outside, f"{wheel.name} holds files outside the package: {outside}"
    assert "scdeepclust/py.typed" in names, "py.typed is missing from the wheel"
    assert any(n.endswith("licenses/LICENSE") for n in names), "LICENSE is not in the wheel"
    assert not any("__pycache__" in n for n in names), "compiled files in the wheel"
    print(f"{wheel.name}: {len(names)} files, all in the package")


def check_sdist(sdist: Path) -> None:
    """The sdist holds the package, tests and the project files, not docs builds or data."""
    names = [n.split("/", 1)[1] for n in tarfile.open(sdist).getnames() if "/" in n]
    for required in ("pyproject.toml", "LICENSE", "README.md", "scdeepclust/__init__.py"):
        assert required in names, f"{sdist.name} lacks {required}"
    big = [n for n in names if n.startswith(("docs/_build", "results/", ".venv"))]
    assert not big, f"{sdist.name} holds build output: {big[:5]}"
    print(f"{sdist.name}: {len(names)} files")


if __name__ == "__main__":
    dist = Path(sys.argv[1])
    (wheel,) = dist.glob("*.whl")
    (sdist,) = dist.glob("*.tar.gz")
    check_wheel(wheel)
    check_sdist(sdist)
