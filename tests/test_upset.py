"""The upset head (bot/model/upset.py, finetune/upset_fit.py) on the tiny model: placeholders and unreadable
messages read neutral, anger cues raise the score, the save format round-trips, the fit reads real sources."""
import shutil

import numpy as np
import pytest

from bot.model.upset import UpsetHead, content_of, readable
from finetune.upset_fit import Labelled, choose_cut, fit_upset, held_out, read_real, training_sets

CALM = ["where is my order", "can I change my address", "how do I return shoes", "what time do you open",
        "thanks for the help", "is there a discount code", "please update my email", "do you ship to france"]
ANGRY = ["WHERE IS MY ORDER!!! third time asking", "this is UNACCEPTABLE, still no refund!!",
         "I want to cancel my account, useless service", "AGAIN no reply??? ridiculous",
         "worst service ever, still waiting for weeks", "NOBODY ANSWERS!!! cancel my subscription",
         "still broken, I have asked again and again!!", "terrible, I am done with you!!!"]


@pytest.fixture(scope="module")
def upset_model(tiny_model_dir, tmp_path_factory):
    from bot.model.helpline_model import HelplineModel

    directory = tmp_path_factory.mktemp("upset") / "model"
    shutil.copytree(tiny_model_dir, directory)
    shutil.rmtree(directory / "mood", ignore_errors=True)   # as `finetune train` makes a model now: no mood head
    texts, labels = CALM * 4 + ANGRY * 4, [0] * 32 + [1] * 32
    train = [Labelled("tiny", texts, np.array(labels))]
    dev = [Labelled("tiny_dev", CALM + ANGRY, np.array([0] * 8 + [1] * 8))]
    head, report = fit_upset(HelplineModel.from_pretrained(directory), train, dev, progress=lambda _m: None)
    head.save(directory)
    return HelplineModel.from_pretrained(directory), report


@pytest.mark.parametrize("text", ["#EMAIL#", "[EMAIL]", "__email__", "<PERSON>", "{{name}}", "XXXX", "12345 678",
                                  "#NAME# #NUMBER#", "[CARD] [PHONE]", "???", "здравствуйте, спасибо большое"])
def test_placeholders_numbers_and_other_scripts_read_neutral(upset_model, text):
    classifier, _ = upset_model
    prediction = classifier.predict(text)
    assert prediction.frustration == 0.0 and prediction.sentiment == "neutral"


def test_placeholders_do_not_change_a_readable_message(upset_model):
    classifier, _ = upset_model
    plain, masked = classifier.predict(["where is my order", "where is my order #EMAIL# [PHONE] {{name}}"])
    assert masked.frustration == pytest.approx(plain.frustration, abs=1e-6)


def test_capitals_and_repeated_complaints_raise_the_score(upset_model):
    classifier, report = upset_model
    calm, shouted = classifier.predict(["where is my refund", "WHERE IS MY REFUND!!! third time, still nothing"])
    assert shouted.frustration > calm.frustration + 0.2
    assert shouted.sentiment == "negative" and calm.sentiment != "negative"
    assert report["held_out"]["tiny_dev"]["auc"] > 0.9


def test_the_head_round_trips_and_refuses_a_foreign_format(upset_model, tmp_path):
    import json

    classifier, _ = upset_model
    head = UpsetHead.load(classifier.directory)
    assert head.negative_cut == classifier.upset.negative_cut and np.allclose(head.weights, classifier.upset.weights)
    shutil.copytree(classifier.directory / "upset", tmp_path / "upset")
    meta = json.loads((tmp_path / "upset" / "upset.json").read_text())
    (tmp_path / "upset" / "upset.json").write_text(json.dumps({**meta, "format_version": 99}))
    with pytest.raises(ValueError, match="refit it with `python -m finetune upset"):
        UpsetHead.load(tmp_path)


def test_content_and_readability():
    assert content_of("@united my bag #NUMBER# is lost http://t.co/x [EMAIL]") == "my bag is lost"
    assert readable("my bag is lost") and not readable("12 34 ?!") and not readable("спасибо большое")


def test_real_sources_are_split_by_text_and_the_restricted_ones_can_be_left_out(tmp_path):
    folder = tmp_path / "customer_sentiment"
    folder.mkdir()
    rows = [f"{i},{'negative' if i % 2 else 'neutral'},,Delta,tweet number {i},2/16/2015" for i in range(50)]
    (folder / "airline_tweets_train.csv").write_text(
        "tweet_id,airline_sentiment,negativereason,airline,text,tweet_created\n" + "\n".join(rows) + "\n")
    train, dev = read_real(tmp_path, "airline")
    assert len(train.texts) + len(dev.texts) == 50 and all(held_out(t) for t in dev.texts)
    assert not set(train.texts) & set(dev.texts) and train.upset.sum() + dev.upset.sum() == 25
    with_all, _ = training_sets(tmp_path)
    without, held = training_sets(tmp_path, restricted=False)
    assert "airline" in [s.name for s in with_all] and "airline" not in [s.name for s in without] and held == []


def test_the_cut_keeps_the_share_read_negative_near_the_labelled_share():
    rng = np.random.default_rng(0)
    rare = rng.random(1000) < 0.13            # a support-chat base rate
    scores = np.clip(rare * 0.35 + rng.random(1000) * 0.6, 0, 1)
    cut = choose_cut([("rare", scores, rare.astype(int))])
    share = (scores >= cut).mean()
    assert 0.065 <= share <= 0.26


def test_the_benchmark_scores_every_real_set_with_its_baselines(upset_model, tiny_data, tmp_path, monkeypatch):
    import json

    import benchmarks.emotion_in_context as bench

    folder = tmp_path / "customer_sentiment"
    folder.mkdir()
    tweets = [(t, "negative") for t in ANGRY * 3] + [(t, "neutral") for t in CALM * 3]
    (folder / "airline_tweets_train.csv").write_text(
        "tweet_id,airline_sentiment,negativereason,airline,text,tweet_created\n"
        + "".join(f"{i},{label},,Delta,\"{text} {i}\",2/16/2015\n" for i, (text, label) in enumerate(tweets)))
    (folder / "complaints_train.csv").write_text(
        "tweet_id,text,complaint,domain\n"
        + "".join(f"{i},\"{text} no {i}\",{int(label == 'negative')},apparel\n"
                  for i, (text, label) in enumerate(tweets)))
    star = tmp_path / "star.jsonl"
    star.write_text("".join(json.dumps({"id": f"s{i}", "messages": [{"role": "customer", "text": t}],
                                        "meta": {"agent_reported_customer_annoyed": t in ANGRY}}) + "\n"
                            for i, t in enumerate((ANGRY + CALM) * 3)))
    published = {}
    monkeypatch.setattr(bench, "publish", lambda name, title, record, lines: published.update(record=record))
    monkeypatch.setenv("HELPLINE_DATA", str(tmp_path))
    bench.main(["--model", str(upset_model[0].directory), "--emotion-data", tiny_data["emotions"], "--star", str(star)])
    sets = published["record"]["sets"]
    assert {"airline_dev", "complaints_dev", "star_annoyed"} <= set(sets)
    for name in ("airline_dev", "complaints_dev"):
        result = sets[name]
        assert set(bench.METHODS) <= set(result) and result["n"] > 0
        assert 0 <= result["share_negative"] <= 1 and "negative_precision" in result and result["served"]["ci95"]
    star_result = sets["star_annoyed"]
    assert 0 <= star_result["share_messages_negative"] <= star_result["share_conversations_negative"] <= 1
    assert 0.4 <= star_result["share_labelled"] <= 0.6          # half the conversations were annoyed
    assert any("reported annoyed" in line for line in bench.table_lines(published["record"]))


def test_the_download_script_keeps_only_files_with_the_listed_hash(tmp_path):
    import hashlib

    from finetune.download import fetch, load_manifest

    assert all(len(s["sha256"]) == 64 and s["licence"] for s in load_manifest())   # every source pinned
    upstream = tmp_path / "upstream.zip"
    upstream.write_bytes(b"labelled customer text")
    good = {"name": "demo", "url": upstream.as_uri(), "file": "demo/data.zip", "licence": "CC BY 4.0",
            "sha256": hashlib.sha256(b"labelled customer text").hexdigest()}
    kept = fetch(good, tmp_path / "data")
    assert kept.read_bytes() == b"labelled customer text"
    upstream.write_bytes(b"changed upstream")
    assert fetch(good, tmp_path / "data") == kept                          # already there with the right hash
    kept.unlink()
    with pytest.raises(ValueError, match="demo: .* has sha256 .*nothing was kept"):
        fetch(good, tmp_path / "data")
    assert list((tmp_path / "data" / "demo").iterdir()) == []


def test_agent_turns_in_another_language_do_not_move_the_customers_score(upset_model):
    from bot.model.mood import read_conversations

    classifier, _ = upset_model
    customer = [{"role": "customer", "text": "where is my order"}, {"role": "customer", "text": "STILL NOTHING!!!"}]
    agents = [customer[0], {"role": "agent", "text": "Bitte warten Sie, ich prüfe Ihre Bestellung."}, customer[1]]
    alone, with_agents = read_conversations(classifier.predict, classifier.mood, [customer, agents])
    assert [p.frustration for _, p, _ in alone] == [p.frustration for _, p, _ in with_agents]
