"""Where models and data load from (the Hub at pinned commits, a local Hub folder, disk),
and activate, which prepares a process for a profile.

The last tests run the full profile from a replica of its Hub repositories (random weights,
real layouts), built once for this module, with every socket connection refused while the
loaders run: a library that tried to reach the Hub (a metadata check, telemetry, a
conversion request) fails them.
"""

import os
import socket

import pytest

from labs_common import data, hub, profiles
from labs_common.models import load_causal, load_seq2seq
from labs_common.toxicity import ToxicityClassifier


def test_activate_tiny_sets_offline_mode(monkeypatch):
    for variable in ("HF_HUB_OFFLINE", "HF_DATASETS_OFFLINE"):
        monkeypatch.delenv(variable, raising=False)
    hub.activate("tiny")
    assert os.environ["HF_HUB_OFFLINE"] == "1" and os.environ["HF_DATASETS_OFFLINE"] == "1"


def test_activate_tiny_without_the_tiny_world_says_how_to_build_it(monkeypatch, tmp_path):
    monkeypatch.setenv("LABS_DATA_DIR", str(tmp_path))
    with pytest.raises(profiles.ProfileError, match="make tiny-world"):
        hub.activate("tiny")


def test_full_without_hub_fails_at_once(monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setitem(hub._state, "offline_set_by_labs", False)
    with pytest.raises(profiles.ProfileError, match="LABS_PROFILE=tiny"):
        hub.activate("full")


def test_full_when_the_hub_does_not_answer_names_the_local_folder(monkeypatch):
    monkeypatch.delenv("HF_HUB_OFFLINE", raising=False)
    monkeypatch.delenv("LABS_HUB_DIR", raising=False)
    monkeypatch.setattr(hub, "hub_reachable", lambda timeout=3.0: False)
    with pytest.raises(profiles.ProfileError, match="LABS_HUB_DIR"):
        hub.activate("full")


@pytest.fixture
def restore_offline():
    yield
    hub.set_offline(True)  # the rest of the test session stays offline
    hub._state["hub_dir"] = None


def test_one_kernel_switches_from_tiny_to_full_and_back(monkeypatch, restore_offline):
    """A kernel that ran tiny (offline) must be able to go online for full, and back."""
    from datasets import config as datasets_config
    from huggingface_hub import constants

    monkeypatch.delenv("LABS_HUB_DIR", raising=False)
    monkeypatch.setattr(hub, "hub_reachable", lambda timeout=3.0: True)
    hub.activate("tiny")
    assert constants.HF_HUB_OFFLINE and datasets_config.HF_HUB_OFFLINE
    hub.activate("full")
    assert os.environ["HF_HUB_OFFLINE"] == "0"
    assert not constants.HF_HUB_OFFLINE and not datasets_config.HF_HUB_OFFLINE
    hub.activate("tiny")
    assert os.environ["HF_HUB_OFFLINE"] == "1" and constants.HF_HUB_OFFLINE


def fake_hub_folder(root, profile):
    for repo_id in profile.hub_repositories():
        (root / repo_id).mkdir(parents=True)
    return root


def test_full_with_a_hub_folder_resolves_every_id_there_and_stays_offline(
    tmp_path, monkeypatch, restore_offline
):
    monkeypatch.setattr(hub, "hub_reachable", lambda timeout=3.0: pytest.fail("network"))
    full = profiles.get_profile("full")
    folder = fake_hub_folder(tmp_path, full)
    monkeypatch.setenv("LABS_HUB_DIR", str(folder))
    active = hub.activate("full")
    assert active.summarizer == "google/flan-t5-base"  # the same ids in every output
    assert os.environ["HF_HUB_OFFLINE"] == "1"
    for repo_id in full.hub_repositories():
        source = hub.resolve(repo_id)
        assert source.path == str(folder / repo_id) and source.revision is None


def test_a_repository_missing_from_the_hub_folder_stops_with_its_download_command(tmp_path):
    full = profiles.get_profile("full")
    folder = fake_hub_folder(tmp_path, full)
    (folder / full.dialogue_dataset).rmdir()
    with pytest.raises(profiles.ProfileError) as error:
        hub.activate("full", hub_dir=folder)
    message = str(error.value)
    assert full.dialogue_dataset in message
    assert f"hf download {full.dialogue_dataset} --repo-type dataset" in message
    assert str(folder / full.dialogue_dataset) in message


def test_without_a_hub_folder_hub_ids_load_at_their_pinned_commit(monkeypatch):
    monkeypatch.setitem(hub._state, "hub_dir", None)
    source = hub.resolve("mteb/tweet_sentiment_extraction")
    assert source.revision == "d604517c81ca91fe16a244d1248fc021f9ecee7a"
    tiny = profiles.get_profile("tiny")
    assert hub.resolve(tiny.summarizer).revision is None  # a folder loads as it is


def test_every_hub_repository_of_the_full_profile_is_pinned_to_a_commit_or_says_why_not():
    import re

    for repo_id in profiles.get_profile("full").hub_repositories():
        if repo_id in hub.UNPINNED:
            assert repo_id not in hub.HUB_REVISIONS and hub.UNPINNED[repo_id]
        else:
            assert re.fullmatch(r"[0-9a-f]{40}", hub.HUB_REVISIONS.get(repo_id, "")), repo_id


def test_activating_forbids_safetensors_conversion_pull_requests():
    hub.activate("tiny")
    assert os.environ["DISABLE_SAFETENSORS_CONVERSION"] == "1"


def test_only_the_libraries_renamed_method_warnings_are_silenced():
    import warnings

    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        hub.silence_library_deprecations()
        warnings.warn("`is_gradient_checkpointing` is deprecated and will be removed in v6.",
                      FutureWarning, stacklevel=1)
        warnings.warn("`foo` is deprecated.", FutureWarning, stacklevel=1)
        warnings.warn("`is_gradient_checkpointing` is deprecated", UserWarning, stacklevel=1)
    assert [str(w.message) for w in caught] == [
        "`foo` is deprecated.", "`is_gradient_checkpointing` is deprecated"]


def test_outputs_name_local_models_without_this_machine_s_paths():
    tiny = profiles.get_profile("tiny")
    assert hub.display_name(tiny.toxicity_classifier) == "roberta-hate-tiny"
    assert hub.display_name("google/flan-t5-base") == "google/flan-t5-base"


# ---------------------------------------------------------------- the full profile from a folder


@pytest.fixture(scope="module")
def replica(tmp_path_factory):
    from labs_tools.hub_replica import build_replica

    folder = tmp_path_factory.mktemp("hub")
    build_replica(folder, scale="ci")
    return folder


@pytest.fixture
def no_network(monkeypatch):
    attempts = []

    def refuse(*args, **kwargs):
        attempts.append(args)
        raise OSError("the network was reached although a local Hub folder is set")

    monkeypatch.setattr(socket.socket, "connect", refuse)
    monkeypatch.setattr(socket.socket, "connect_ex", refuse)
    monkeypatch.setattr(socket, "create_connection", refuse)
    return attempts


@pytest.fixture
def restore_profile_state():
    yield
    hub._state["hub_dir"] = None
    hub.set_offline(True)


def test_with_a_hub_folder_every_repository_loads_and_no_socket_is_opened(
    replica, monkeypatch, no_network, restore_profile_state
):
    monkeypatch.delenv("HF_HUB_OFFLINE", raising=False)  # offline must come from the folder
    monkeypatch.setenv("LABS_HUB_DIR", str(replica))
    profile = hub.activate("full")
    assert profile.summarizer == "google/flan-t5-base"

    model, tokenizer = load_seq2seq(profile.summarizer, "cpu", trainable=True)
    encoded = tokenizer(["Summarize the following conversation.\n\nhi\n\nSummary:"],
                        return_tensors="pt")
    assert model.generate(**encoded, max_new_tokens=4).shape[0] == 1
    causal, causal_tokenizer = load_causal(profile.causal_policy, "cpu")
    assert causal_tokenizer.chat_template and causal_tokenizer.padding_side == "left"
    reward = ToxicityClassifier(profile.toxicity_classifier, "cpu")
    assert reward.labels == {0: "nothate", 1: "hate"}
    judge = ToxicityClassifier(profile.toxicity_judge, "cpu", toxic_index=profile.judge_toxic_index)
    assert 0.0 <= judge.toxicity(["hello there"])[0] <= 1.0
    dialogues = data.load_dialogues(profile)
    assert set(dialogues) == {"train", "validation", "test"}
    tweets = data.load_tweets(profile, test=5)
    assert set(data.TWEET_COLUMNS) <= set(tweets["test"].column_names)
    assert no_network == []


def test_the_guard_itself_catches_a_connection(no_network):
    with pytest.raises(OSError, match="network was reached"):
        socket.create_connection(("127.0.0.1", 9))
    assert len(no_network) == 1
