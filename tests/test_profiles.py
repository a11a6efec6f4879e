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
    monkeypatch.setitem(profiles._state, "offline_set_by_labs", False)
    with pytest.raises(profiles.ProfileError, match="LABS_PROFILE=tiny"):
        profiles.activate("full")


def test_full_when_the_hub_does_not_answer_names_the_local_folder(monkeypatch):
    monkeypatch.delenv("HF_HUB_OFFLINE", raising=False)
    monkeypatch.delenv("LABS_HUB_DIR", raising=False)
    monkeypatch.setattr(profiles, "hub_reachable", lambda timeout=3.0: False)
    with pytest.raises(profiles.ProfileError, match="LABS_HUB_DIR"):
        profiles.activate("full")


@pytest.fixture
def restore_offline():
    yield
    profiles.set_offline(True)  # the rest of the test session stays offline
    profiles._state["hub_dir"] = None


def test_one_kernel_switches_from_tiny_to_full_and_back(monkeypatch, restore_offline):
    """A kernel that ran tiny (offline) must be able to go online for full, and back."""
    from datasets import config as datasets_config
    from huggingface_hub import constants

    monkeypatch.delenv("LABS_HUB_DIR", raising=False)
    monkeypatch.setattr(profiles, "hub_reachable", lambda timeout=3.0: True)
    profiles.activate("tiny")
    assert constants.HF_HUB_OFFLINE and datasets_config.HF_HUB_OFFLINE
    profiles.activate("full")
    assert os.environ["HF_HUB_OFFLINE"] == "0"
    assert not constants.HF_HUB_OFFLINE and not datasets_config.HF_HUB_OFFLINE
    profiles.activate("tiny")
    assert os.environ["HF_HUB_OFFLINE"] == "1" and constants.HF_HUB_OFFLINE


def fake_hub_folder(root, profile):
    for repo_id in profile.hub_repositories():
        (root / repo_id).mkdir(parents=True)
    return root


def test_full_with_a_hub_folder_resolves_every_id_there_and_stays_offline(
    tmp_path, monkeypatch, restore_offline
):
    monkeypatch.setattr(profiles, "hub_reachable", lambda timeout=3.0: pytest.fail("network"))
    full = profiles.get_profile("full")
    folder = fake_hub_folder(tmp_path, full)
    monkeypatch.setenv("LABS_HUB_DIR", str(folder))
    active = profiles.activate("full")
    assert active.summarizer == "google/flan-t5-base"  # the same ids in every output
    assert os.environ["HF_HUB_OFFLINE"] == "1"
    for repo_id in full.hub_repositories():
        source = profiles.resolve(repo_id)
        assert source.path == str(folder / repo_id) and source.revision is None


def test_a_repository_missing_from_the_hub_folder_stops_with_its_download_command(tmp_path):
    full = profiles.get_profile("full")
    folder = fake_hub_folder(tmp_path, full)
    (folder / full.dialogue_dataset).rmdir()
    with pytest.raises(profiles.ProfileError) as error:
        profiles.activate("full", hub_dir=folder)
    message = str(error.value)
    assert full.dialogue_dataset in message
    assert f"hf download {full.dialogue_dataset} --repo-type dataset" in message
    assert str(folder / full.dialogue_dataset) in message


def test_without_a_hub_folder_hub_ids_load_at_their_pinned_commit(monkeypatch):
    monkeypatch.setitem(profiles._state, "hub_dir", None)
    source = profiles.resolve("mteb/tweet_sentiment_extraction")
    assert source.revision == "d604517c81ca91fe16a244d1248fc021f9ecee7a"
    tiny = profiles.get_profile("tiny")
    assert profiles.resolve(tiny.summarizer).revision is None  # a folder loads as it is


def test_every_hub_repository_of_the_full_profile_is_pinned_to_a_commit_or_says_why_not():
    import re

    for repo_id in profiles.get_profile("full").hub_repositories():
        if repo_id in profiles.UNPINNED:
            assert repo_id not in profiles.HUB_REVISIONS and profiles.UNPINNED[repo_id]
        else:
            assert re.fullmatch(r"[0-9a-f]{40}", profiles.HUB_REVISIONS.get(repo_id, "")), repo_id


def test_activating_forbids_safetensors_conversion_pull_requests():
    profiles.activate("tiny")
    assert os.environ["DISABLE_SAFETENSORS_CONVERSION"] == "1"


def test_settings_overrides_change_only_the_named_sizes():
    tiny = profiles.get_profile("tiny")
    small = tiny.with_settings(lab3={"ppo_steps": 2}, lab1=None)
    assert small.lab3.ppo_steps == 2 and small.lab3.ppo_batch_size == tiny.lab3.ppo_batch_size
    assert small.lab1 == tiny.lab1
    with pytest.raises(profiles.ProfileError, match="ppo_stepz"):
        tiny.with_settings(lab3={"ppo_stepz": 2})


def test_precision_rules_never_use_fp16_and_cpu_is_fp32():
    assert profiles.model_dtype("cpu") == torch.float32
    assert profiles.training_precision("cpu") == {"bf16": False, "fp16": False}


def fake_gpu(monkeypatch, capability, emulated_bf16=True):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    monkeypatch.setattr(torch.cuda, "get_device_capability", lambda device=None: capability)
    monkeypatch.setattr(torch.cuda, "is_bf16_supported", lambda *a, **k: emulated_bf16)


def test_a_t4_runs_in_fp32_although_torch_calls_its_emulated_bf16_supported(monkeypatch):
    fake_gpu(monkeypatch, (7, 5), emulated_bf16=True)  # what torch says on a T4
    assert profiles.model_dtype("cuda") == torch.float32
    assert profiles.training_precision("cuda") == {"bf16": False, "fp16": False}


def test_ampere_or_newer_uses_bf16_for_frozen_models_and_autocast(monkeypatch):
    fake_gpu(monkeypatch, (8, 0))  # an A100
    assert profiles.model_dtype("cuda") == torch.bfloat16
    assert profiles.training_precision("cuda") == {"bf16": True, "fp16": False}
    fake_gpu(monkeypatch, (9, 0))  # an H100
    assert profiles.model_dtype("cuda") == torch.bfloat16


def test_a_model_that_trains_keeps_fp32_weights_even_on_a_bf16_gpu(monkeypatch):
    fake_gpu(monkeypatch, (8, 0))
    assert profiles.model_dtype("cuda", trainable=True) == torch.float32


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


def test_as_t4_a_bigger_gpu_runs_in_fp32_within_15_gib(monkeypatch):
    import types

    fake_gpu(monkeypatch, (9, 0))
    monkeypatch.setenv("LABS_AS_T4", "1")
    assert profiles.model_dtype("cuda") == torch.float32
    assert profiles.training_precision("cuda") == {"bf16": False, "fp16": False}
    fractions = []
    monkeypatch.setattr(torch.cuda, "get_device_properties",
                        lambda i: types.SimpleNamespace(total_memory=140 * 2**30))
    monkeypatch.setattr(torch.cuda, "set_per_process_memory_fraction",
                        lambda fraction: fractions.append(fraction))
    saved = torch.backends.cuda.matmul.allow_tf32, torch.backends.cudnn.allow_tf32
    try:
        torch.backends.cuda.matmul.allow_tf32 = True
        profiles.emulate_t4()
        assert torch.backends.cuda.matmul.allow_tf32 is False
        assert torch.backends.cudnn.allow_tf32 is False
    finally:
        torch.backends.cuda.matmul.allow_tf32, torch.backends.cudnn.allow_tf32 = saved
    assert fractions == [pytest.approx(15 / 140)]


def test_outputs_name_local_models_without_this_machine_s_paths():
    tiny = profiles.get_profile("tiny")
    assert profiles.display_name(tiny.toxicity_classifier) == "roberta-hate-tiny"
    assert profiles.display_name("google/flan-t5-base") == "google/flan-t5-base"
