"""The profiles' values: what each logical name means, and the labs' sizes."""

import os

import pytest

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


def test_settings_overrides_change_only_the_named_sizes():
    tiny = profiles.get_profile("tiny")
    small = tiny.with_settings(lab3={"ppo_steps": 2}, lab1=None)
    assert small.lab3.ppo_steps == 2 and small.lab3.ppo_batch_size == tiny.lab3.ppo_batch_size
    assert small.lab1 == tiny.lab1
    with pytest.raises(profiles.ProfileError, match="ppo_stepz"):
        tiny.with_settings(lab3={"ppo_stepz": 2})


def test_hub_repositories_name_the_full_profile_s_models_and_datasets_and_none_of_tiny():
    full = profiles.get_profile("full")
    repositories = full.hub_repositories()
    assert {repo for repo, kind in repositories.items() if kind == "dataset"} == {
        full.dialogue_dataset, full.sentiment_dataset}
    assert {repo for repo, kind in repositories.items() if kind == "model"} == {
        full.summarizer, full.toxicity_classifier, full.toxicity_judge, full.causal_policy}
    assert profiles.get_profile("tiny").hub_repositories() == {}
