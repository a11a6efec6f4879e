"""The full profile from a local Hub folder (LABS_HUB_DIR): everything loads, nothing goes online.

The folder is a replica of the profile's repositories (random weights, real layouts), built
once for this module. Every socket connection is refused while the loaders run: a library
that tried to reach the Hub (a metadata check, telemetry, a conversion request) fails the test.
"""

from __future__ import annotations

import socket

import pytest

from labs_common import data, profiles
from labs_common.models import load_causal, load_seq2seq
from labs_common.toxicity import ToxicityClassifier


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
    profiles._state["hub_dir"] = None
    profiles.set_offline(True)


def test_with_a_hub_folder_every_repository_loads_and_no_socket_is_opened(
    replica, monkeypatch, no_network, restore_profile_state
):
    monkeypatch.delenv("HF_HUB_OFFLINE", raising=False)  # offline must come from the folder
    monkeypatch.setenv("LABS_HUB_DIR", str(replica))
    profile = profiles.activate("full")
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
