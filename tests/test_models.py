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


@pytest.mark.parametrize("name", sorted(BUILTIN_MODELS.values()))
def test_every_shipped_emotion_model_has_its_card_beside_it(name: str) -> None:
    card = MODELS.joinpath(name.removesuffix(".onnx") + ".md")
    assert card.is_file(), f"{name} has no card"
    assert card.read_text().startswith("# emocam ")


@pytest.mark.parametrize(("name", "source", "figures"), [
    ("emocam-ferplus-int8.onnx", "emocam-ferplus.onnx", "majority accuracy 86.45% -> 86.32%"),
    ("emocam-ferplus-large-int8.onnx", "emocam-ferplus-large.onnx",
     "majority accuracy 87.70% -> 87.57%"),
    ("emocam-fer2013-int8.onnx", "emocam-fer2013.onnx", "privatetest accuracy 71.25% -> 71.13%"),
])
def test_a_shipped_int8_models_card_names_its_source_and_its_own_figures(
        name: str, source: str, figures: str) -> None:
    # The int8 files had no card: what they were, how they were made and what they score
    # was in models/README.md alone.
    head, _, carried = MODELS.joinpath(name.removesuffix(".onnx") + ".md").read_text() \
        .partition("\n---\n")
    assert f"`{name}` was made from `{source}` by `fer-train quantize`" in head
    assert figures in head
    assert "research use only" in head  # the FER2013 images' licence, which it keeps
    assert carried.strip() == MODELS.joinpath(source.removesuffix(".onnx") + ".md") \
        .read_text().strip()
