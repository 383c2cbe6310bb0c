import json

import pytest

from bot.batch.transcripts import TranscriptError, read_transcripts
from finetune.data import DataError, check_intent_counts, load_emotion_data, load_intent_data, split_validation
from intents import DEFAULT_CATALOGUE


def test_csv_with_text_and_intent(tiny_data):
    data = load_intent_data(tiny_data["intents"])
    assert data.train.column_names == ["text", "intent"] and len(data.train) == 32
    assert data.validation is None and len(data.fingerprint) == 64


@pytest.mark.parametrize("header", ["text,category", "utterance,label", "instruction,intent"])
def test_csv_column_aliases(tmp_path, header):
    path = tmp_path / "d.csv"
    path.write_text(f"{header}\nhello,greet\nbye,farewell\n")
    assert list(load_intent_data(str(path)).train["intent"]) == ["greet", "farewell"]


def test_catalogue_yaml_gives_examples_and_oos():
    data = load_intent_data(str(DEFAULT_CATALOGUE))
    intents = set(data.train["intent"])
    assert "order_status" in intents and "oos" in intents


def test_clinc_json_with_validation_and_oos(tmp_path):
    path = tmp_path / "clinc.json"
    path.write_text(json.dumps({"train": [["book a flight", "book_flight"], ["weather?", "weather"]],
                                "val": [["flight please", "book_flight"]], "oos_train": [["sing", "oos"]],
                                "oos_val": [["dance", "oos"]]}))
    data = load_intent_data(str(path))
    assert list(data.train["intent"]) == ["book_flight", "weather", "oos"]
    assert list(data.validation["intent"]) == ["book_flight", "oos"]


def test_transcripts_jsonl_and_csv_use_labelled_customer_messages(tmp_path):
    jsonl = tmp_path / "t.jsonl"
    jsonl.write_text(json.dumps({"id": "c1", "messages": [
        {"role": "customer", "text": "my card is gone", "intent": "lost_card"},
        {"role": "agent", "text": "sorry to hear", "intent": "should_be_ignored"},
        {"role": "customer", "text": "thanks"}]}) + "\n")
    assert list(load_intent_data(str(jsonl)).train["text"]) == ["my card is gone"]
    csv = tmp_path / "t.csv"
    csv.write_text("conversation_id,role,text,intent\nc1,customer,refund me,refund\nc1,agent,ok,\n"
                   "c2,customer,hi,greeting\n")
    assert list(load_intent_data(str(csv)).train["intent"]) == ["refund", "greeting"]


@pytest.mark.parametrize("line, message", [
    ("{not json", r"t.jsonl:1: not valid JSON"),
    (json.dumps({"messages": []}), r"t.jsonl:1: 'messages' must be a non-empty list"),
    (json.dumps({"messages": [{"role": "robot", "text": "x"}]}), r"message 0 has role 'robot'"),
    (json.dumps({"format_version": 7, "messages": [{"role": "customer", "text": "x"}]}),
     r"format_version 7 is not supported"),
    # hostile exports (issue 35): each a clear sentence, not a generic error or a hang
    ('{"id": "a", "messages": [{"role": "customer", "text": "x", "time": ' + "9" * 4400 + "}]}",
     r"t.jsonl:1: a number too long or nesting too deep"),
    ('{"id": "a", "messages": ' + "[" * 100_000 + "]" * 100_000 + "}", r"t.jsonl:1: a number too long or nesting"),
    (json.dumps({"id": "a", "messages": [{"role": "customer", "text": "x", "time": 1e300}]}),
     r"message 0 has time '1e\+300'; use seconds since 1970"),
    (json.dumps({"id": "a", "messages": [{"role": "customer", "text": "x", "time": -5}]}), r"message 0 has time '-5'"),
    (json.dumps({"id": "a", "messages": [{"role": "customer", "text": "x"}] * 2001}),
     r"2001 messages in one conversation; the limit is 2000"),
])
def test_bad_transcripts(tmp_path, line, message):
    path = tmp_path / "t.jsonl"
    path.write_text(line + "\n")
    with pytest.raises(TranscriptError, match=message):
        read_transcripts(path)


def test_bad_intent_data(tmp_path):
    with pytest.raises(DataError, match=r"nowhere.csv: no such file or directory"):
        load_intent_data(str(tmp_path / "nowhere.csv"))
    with pytest.raises(DataError, match=r"data/nowhere.csv: no such file or directory"):
        load_intent_data("data/nowhere.csv")  # a relative path is not mistaken for a Hub id
    with pytest.raises(DataError, match=r"someone/dataset: no such file, and Hub datasets are off"):
        load_intent_data("someone/dataset")
    (tmp_path / "empty.csv").write_text("")
    with pytest.raises(DataError, match=r"empty.csv: the file is empty"):
        load_intent_data(str(tmp_path / "empty.csv"))
    (tmp_path / "cols.csv").write_text("message,intent\nhi,greet\n")
    with pytest.raises(DataError, match=r"missing a text column .* found columns \['message', 'intent'\]"):
        load_intent_data(str(tmp_path / "cols.csv"))
    (tmp_path / "x.parquet").write_text("x")
    with pytest.raises(DataError, match=r"unknown intent data format '.parquet'"):
        load_intent_data(str(tmp_path / "x.parquet"))


def test_intent_counts_and_stratified_split(tiny_data, tmp_path):
    train = load_intent_data(tiny_data["intents"]).train
    rest, held = split_validation(train, 0.25, seed=1)
    assert len(rest) + len(held) == len(train)
    assert sorted(set(held["intent"])) == sorted(set(train["intent"]))  # every intent is represented
    assert not set(held["text"]) & set(rest["text"])
    (tmp_path / "one.csv").write_text("text,intent\na,x\nb,x\nc,y\n")
    with pytest.raises(DataError, match=r"fewer than 2 examples: \['y'\]"):
        check_intent_counts(load_intent_data(str(tmp_path / "one.csv")).train, "one.csv")


def test_goemotions_folder_and_file(tiny_data, tmp_path):
    data = load_emotion_data(tiny_data["emotions"])
    assert len(data.labels) == 28 and len(data.train) == 30 and len(data.validation) == 10
    assert all(isinstance(ids, list) for ids in data.train["labels"])
    single = load_emotion_data(tiny_data["emotion_test"])
    assert single.train is None and len(single.validation) == 10
    bad = tmp_path / "bad.tsv"
    bad.write_text("hello\t99\tid1\n")
    with pytest.raises(DataError, match=r"bad.tsv:1: label id out of range 0..27"):
        load_emotion_data(str(bad))


def test_bad_exports_name_the_file_and_line_and_say_what_to_do(tmp_path):
    """Issue 38's bad files: each gives a sentence with the file and line, or is read as the user meant."""
    excel = tmp_path / "excel.csv"                      # Excel's "CSV UTF-8" starts with a byte-order mark
    excel.write_bytes("\ufeffconversation_id,role,text\nc1,customer,where is my order\n".encode("utf-8"))
    assert read_transcripts(excel)[0]["messages"][0]["text"] == "where is my order"
    latin = tmp_path / "latin.jsonl"
    latin.write_bytes(b'{"id": "a", "messages": [{"role": "customer", "text": "hi"}]}\n'
                      b'{"id": "b", "messages": [{"role": "customer", "text": "caf\xe9"}]}\n')
    with pytest.raises(TranscriptError, match=r"latin.jsonl:2: not UTF-8 text \(byte 0xe9\); save the export as UTF-8"):
        read_transcripts(latin)
    latin_csv = tmp_path / "latin.csv"
    latin_csv.write_bytes(b"conversation_id,role,text\nc1,customer,hi\nc1,customer,caf\xe9\n")
    with pytest.raises(TranscriptError, match=r"latin.csv:3: not UTF-8 text"):
        read_transcripts(latin_csv)
    quote = tmp_path / "quote.csv"
    quote.write_text('conversation_id,role,text\nc1,customer,"where is\nc1,customer,my order\n')
    with pytest.raises(TranscriptError, match=r"quote.csv:\d+: not valid CSV .*check the quotes"):
        read_transcripts(quote)
    role = tmp_path / "role.csv"
    role.write_text("conversation_id,role,text\nc1,customer,hi\nc1,customer,there\nc1,robot,beep\n")
    with pytest.raises(TranscriptError, match=r"role.csv:4: role 'robot'"):
        read_transcripts(role)
    no_id = tmp_path / "no_id.jsonl"
    no_id.write_text('{"messages": [{"role": "customer", "text": "hi"}]}\n\n{"id": "", "messages": '
                     '[{"role": "customer", "text": "yo"}]}\n')
    assert [c["id"] for c in read_transcripts(no_id)] == ["no_id.jsonl:1", "no_id.jsonl:3"]
