"""The models installed with emocam are the ones the repository vouches for."""

from __future__ import annotations

import hashlib
from importlib.resources import files

import pytest
from training_helpers import int8_weight_range

from emocam.resources import BUILTIN_MODELS

MODELS = files("emocam.models")


def _listed() -> list[tuple[str, str]]:
    lines = MODELS.joinpath("SHA256SUMS").read_text().splitlines()
    return [tuple(line.split()) for line in lines if line.strip()]  # type: ignore[misc]


@pytest.mark.parametrize(("digest", "name"), _listed(), ids=lambda v: v[:24])
def test_installed_model_file_matches_its_published_checksum(digest: str, name: str) -> None:
    data = MODELS.joinpath(name).read_bytes()
    assert hashlib.sha256(data).hexdigest() == digest, f"{name} differs from SHA256SUMS"


def test_every_shipped_model_file_has_a_checksum_and_a_licence_note() -> None:
    listed = {name for _, name in _listed()}
    shipped = {
        p.name for p in MODELS.iterdir() if p.name.endswith((".onnx", ".tflite", ".xml"))
    }
    assert shipped == listed
    readme = MODELS.joinpath("README.md").read_text()
    for name in shipped:
        assert f"`{name}`" in readme, f"models/README.md does not describe {name}"


@pytest.mark.parametrize("name", sorted(f for f in BUILTIN_MODELS.values() if "-int8" in f))
def test_the_int8_models_read_faces_alike_on_cpus_with_and_without_vnni(name: str) -> None:
    # x86 CPUs without VNNI (AVX2 laptops) add uint8 x int8 products in pairs into int16,
    # which saturates when weights use all 8 bits: the previous int8 model read FER+ 1.7
    # points worse on such a CPU. Weights within +-64 cannot saturate, so every CPU computes
    # the same integers.
    assert int8_weight_range(MODELS.joinpath(name).read_bytes()) <= 64
