"""`python -m finetune audit-data`: planted label flips come out on top; near-duplicates with two labels are named."""
import csv
import random

from finetune.__main__ import main

TEMPLATES = {
    "refund_status": ["where is my refund for order {n}", "has my refund for {n} gone through", "refund {n} still "
                      "not received", "when do i get the money back for order {n}"],
    "order_status": ["where is my parcel {n}", "track order {n} please", "when will order {n} arrive",
                     "my delivery {n} has not shown up"],
    "reset_password": ["i forgot my password again {n}", "reset the password on account {n}",
                       "cannot log in, password {n} wrong", "send me a password reset link {n}"],
    "cancel_subscription": ["cancel my subscription {n}", "stop the monthly box {n}", "end my plan {n} now",
                            "i want to unsubscribe from plan {n}"],
}


def test_planted_flips_are_the_most_suspicious_rows_and_duplicates_are_named(tiny_base, tmp_path, capsys):
    rng = random.Random(0)
    rows = [(t.format(n=rng.randint(100, 999)), intent) for intent, ts in TEMPLATES.items() for t in ts * 6]
    names = sorted(TEMPLATES)
    flipped = set(rng.sample(range(len(rows)), 4))                    # 4 of 96: about the issue's 3%
    for i in flipped:
        rows[i] = (rows[i][0], names[(names.index(rows[i][1]) + 1) % len(names)])
    rows.append(("cancel my subscription 123", "cancel_subscription"))
    rows.append(("cancel my subscription 123", "order_status"))         # one text, two labels
    data = tmp_path / "train.csv"
    with data.open("w", newline="") as handle:
        csv.writer(handle).writerows([("text", "intent"), *rows])
    assert main(["audit-data", "--intent-data", str(data), "--base-model", tiny_base,
                 "--output", str(tmp_path / "issues.csv")]) == 0
    issues = list(csv.DictReader((tmp_path / "issues.csv").open()))
    wrong = flipped | {len(rows) - 1}                                    # the duplicate's "order_status" too
    top = {int(r["row"]) - 1 for r in issues[:len(wrong)] if r["issue"] == "label"}
    assert top == wrong, issues[:6]                                     # every planted error, nothing else, on top
    assert all(r["suggested_label"] != r["given_label"] for r in issues[:len(wrong)])
    assert "likely label errors" in capsys.readouterr().err


def test_near_duplicates_are_pairs_of_nearly_the_same_text_under_two_labels():
    import numpy as np

    from finetune.audit_data import near_duplicates

    vectors = np.asarray([[1.0, 0.0], [0.999, 0.0447], [0.0, 1.0], [1.0, 0.0]])
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
    pairs = near_duplicates(vectors, ["refund", "order", "order", "refund"])
    assert [(i, j) for i, j, _ in pairs] == [(0, 1), (1, 3)]     # same label (0, 3) and far apart (2) are not


def test_stored_label_corrections_are_audited_beside_the_data(tiny_base, tmp_path, capsys):
    from bot.conversation.service import Helpline
    from bot.store.conversations import Store
    from intents import load_catalogue
    from tests.conftest import StubClassifier

    rng = random.Random(1)
    data = tmp_path / "train.csv"
    with data.open("w", newline="") as handle:
        csv.writer(handle).writerows([("text", "intent"), *[(t.format(n=rng.randint(100, 999)), intent)
                                                            for intent, ts in TEMPLATES.items() for t in ts * 6]])
    db = f"sqlite:///{tmp_path / 'store.db'}"
    store = Store(db)
    turn = Helpline(StubClassifier(), load_catalogue(), store).handle("where is my parcel 555")
    [message] = [m for m in store.messages(turn.conversation_id) if m.role == "customer"]
    store.correct_label(message.id, "reset_password")                   # an agent's slip
    assert main(["audit-data", "--intent-data", str(data), "--from-store", "--db", db, "--base-model", tiny_base,
                 "--output", str(tmp_path / "issues.csv")]) == 0
    issues = list(csv.DictReader((tmp_path / "issues.csv").open()))
    stored = [r for r in issues if r["source"] == "store"]
    assert stored and stored[0]["given_label"] == "reset_password" and stored[0]["suggested_label"] == "order_status"
    assert {r["source"] for r in issues} <= {"store", str(data)}
    assert main(["audit-data", "--output", str(tmp_path / "none.csv")]) == 2
    assert "nothing to audit" in capsys.readouterr().err
