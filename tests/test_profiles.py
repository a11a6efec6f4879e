import os

import pytest
import torch

from labs_common import profiles


def test_default_profile_is_tiny_and_env_chooses(monkeypatch):
    monkeypatch.delenv("LABS_PROFILE", raising=False)
    assert profiles.get_profile().name == "tiny"
    monkeypatch.setenv("LABS_PROFILE", "full")
    assert profiles.get_profile().name == "full"
    assert profiles.get_profile("tiny").name == "tiny"


def test_unknown_profile_fails_with_what_to_do():
    with pytest.raises(profiles.ProfileError, match="Use 'tiny'.*or 'full'"):
        profiles.get_profile("medium")


def test_full_profile_maps_to_the_course_hub_ids():
    full = profiles.get_profile("full")
    assert full.summarizer == "google/flan-t5-base"
    assert full.dialogue_dataset == "knkarthick/dialogsum"
    assert full.sentiment_dataset == "mteb/tweet_sentiment_extraction"
    assert full.toxicity_classifier == "facebook/roberta-hate-speech-dynabench-r4-target"
    assert not full.local


def test_tiny_profile_points_at_local_folders():
    tiny = profiles.get_profile("tiny")
    assert tiny.local
    for name in (tiny.summarizer, tiny.toxicity_classifier, tiny.dialogue_dataset):
        assert os.path.isabs(name) and "data" in name


def test_activate_tiny_sets_offline_mode(monkeypatch):
    for variable in ("HF_HUB_OFFLINE", "HF_DATASETS_OFFLINE"):
        monkeypatch.delenv(variable, raising=False)
    profiles.activate("tiny")
    assert os.environ["HF_HUB_OFFLINE"] == "1" and os.environ["HF_DATASETS_OFFLINE"] == "1"


def test_activate_tiny_without_the_tiny_world_says_how_to_build_it(monkeypatch, tmp_path):
    monkeypatch.setenv("LABS_DATA_DIR", str(tmp_path))
    with pytest.raises(profiles.ProfileError, match="make tiny-world"):
        profiles.activate("tiny")


def test_full_without_hub_fails_at_once(monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    with pytest.raises(profiles.ProfileError, match="LABS_PROFILE=tiny"):
        profiles.activate("full")


def test_precision_rules_never_use_fp16_and_cpu_is_fp32():
    assert profiles.model_dtype("cpu") == torch.float32
    assert profiles.training_precision("cpu") == {"bf16": False, "fp16": False}


def test_bf16_only_where_the_gpu_supports_it(monkeypatch):
    monkeypatch.setattr(torch.cuda, "is_bf16_supported", lambda *a, **k: False)  # a T4
    assert profiles.model_dtype("cuda") == torch.float32
    monkeypatch.setattr(torch.cuda, "is_bf16_supported", lambda *a, **k: True)  # an A100
    assert profiles.model_dtype("cuda") == torch.bfloat16
    assert profiles.training_precision("cuda") == {"bf16": True, "fp16": False}


def test_only_the_libraries_renamed_method_warnings_are_silenced():
    import warnings

    from labs_common.profiles import silence_library_deprecations

    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        silence_library_deprecations()
        warnings.warn("`is_gradient_checkpointing` is deprecated and will be removed in v6.",
                      FutureWarning, stacklevel=1)
        warnings.warn("`foo` is deprecated.", FutureWarning, stacklevel=1)
        warnings.warn("`is_gradient_checkpointing` is deprecated", UserWarning, stacklevel=1)
    assert [str(w.message) for w in caught] == [
        "`foo` is deprecated.", "`is_gradient_checkpointing` is deprecated"]
