"""An out-of-scope guard for a model whose data has no out-of-scope examples (Banking77, most catalogues).

Without a single example of what it should not answer, such a model used to have no guard at all: every
message went to one of its intents ("thank you so much" to pending_top_up). Two stand-ins for the unknown:
- its own intents, held out a fifth at a time: the detectors are fitted without them (and the intent head's
  probabilities renormalised over the other intents), so their messages are, to each score, messages of an
  intent it never saw. Every candidate score is measured so; without anything else, the best one is kept.
- background texts that ask nothing of the business: the emotion data's Reddit comments, which every default
  training reads anyway. With them the guard is ``knn_negatives``: is a message nearer to that talk than to the
  intents' own messages? A held-out banking intent is the wrong rehearsal for small talk and off-topic
  questions (it favours the scores that find a new banking intent, which let the off-topic through), so with
  background texts that score is kept (benchmarks/RESULTS.md, Out of scope without out-of-scope data).

The threshold comes from the in-scope side alone: at most ``budget`` of the in-scope reference messages the
model answers correctly are turned away (what a guard costs in accuracy is the correct answers it refuses).
The reference messages are the validation split where there is one; otherwise the training messages, each
scored against detectors fitted on the other four fifths (a message is its own nearest neighbour otherwise;
and the threshold, a far tail, needs every message to be steady), and then scores that read the intent head
are left out: the head fits its training messages, so its confidence there says nothing of new ones.
The final detector is fitted on every training message, and the bank also holds copies of half of them with a
greeting, thanks, a name or a self-description around them: without, "... Thank you!" sat nearer to the chat
than to the question and a polite customer was turned away.
"""
from __future__ import annotations

import random

import numpy as np
from sklearn.metrics import roc_auc_score
from sklearn.model_selection import KFold, StratifiedKFold

from bot.model.oos import OosDetector

from .oos_fit import CANDIDATES  # the same scores as with out-of-scope data

GROUPS = 5                 # intents held out a fifth at a time
REFERENCE_FOLDS = 5        # the training messages scored a fifth at a time, when there is no validation split
MIN_INTENTS = 3            # fewer, and holding some out leaves too little to tell apart
BACKGROUND_TEXTS = 5_000   # texts that are no request to the business, for knn_negatives (a sample)
COPIES_SHARE = 0.5         # of the training messages, copied once into the bank with a greeting, thanks or name
READS_THE_HEAD = {"msp", "msp_mahalanobis"}


def background_sample(texts: list[str], seed: int) -> list[str]:
    """At most BACKGROUND_TEXTS of ``texts`` (GoEmotions' Reddit comments: talk that asks nothing of a
    business), drawn with ``seed``."""
    texts = list(texts)
    if len(texts) <= BACKGROUND_TEXTS:
        return texts
    chosen = np.random.default_rng(seed).choice(len(texts), BACKGROUND_TEXTS, replace=False)
    return [texts[i] for i in sorted(chosen)]


def everyday_copies(texts: list[str], seed: int) -> tuple[list[str], np.ndarray]:
    """Copies of COPIES_SHARE of ``texts`` with what customers put around a question (a greeting, thanks, a name,
    a self-description; finetune/counterfactual_terms.yaml), and the rows they copy. In the bank they keep
    "Why won't my top up work? Thank you." among the intents' messages instead of nearer to chat."""
    from .counterfactual_augment import load_terms, with_courtesy_or_someone

    rng, terms = random.Random(seed), load_terms()
    rows = sorted(rng.sample(range(len(texts)), max(1, round(COPIES_SHARE * len(texts)))))
    return [with_courtesy_or_someone(texts[i], terms, rng) for i in rows], np.asarray(rows)


def intent_groups(intents: list[str], seed: int) -> list[set[str]]:
    """The intents shuffled and dealt into at most GROUPS groups."""
    names = sorted(set(intents))
    np.random.default_rng(seed).shuffle(names)
    return [set(names[i::GROUPS]) for i in range(min(GROUPS, len(names)))]


def budget_threshold(correct_scores: np.ndarray, budget: float) -> float:
    """The score threshold (out of scope when score >= it) that turns away at most ``budget`` of new correctly
    answered in-scope messages like the ones whose scores are given: split conformal prediction's quantile, the
    ceil((1 - budget)(n + 1))-th smallest score (Vovk et al. 2005), which holds for new messages where a plain
    quantile of these holds only for these. Too few scores for that budget: just above the highest."""
    ranked = np.sort(np.asarray(correct_scores, dtype=np.float64))
    rank = min(len(ranked), int(np.ceil((1.0 - budget) * (len(ranked) + 1))))
    return float(np.nextafter(ranked[rank - 1], np.inf))


def reference_folds(intents: list[str], seed: int) -> list[tuple[np.ndarray, np.ndarray]]:
    """(bank rows, reference rows) of the training messages, each row a reference once (stratified by intent
    where every intent has a message for each fold)."""
    folds = REFERENCE_FOLDS
    rows = np.arange(len(intents))
    if min(intents.count(intent) for intent in set(intents)) >= folds:
        return list(StratifiedKFold(folds, shuffle=True, random_state=seed).split(rows, intents))
    return list(KFold(min(folds, len(rows)), shuffle=True, random_state=seed).split(rows))


def detector_scores(name: str, bank: np.ndarray, bank_intents: list[str], vectors: np.ndarray,
                    msp: np.ndarray, background: np.ndarray | None) -> tuple[OosDetector | None, np.ndarray]:
    """One candidate fitted on the ``bank`` vectors (and, for knn_negatives, the ``background`` ones), and its
    scores of ``vectors`` (``msp``: their max-softmax scores, which msp and msp_mahalanobis read)."""
    spec = CANDIDATES[name]
    if spec is None:
        return None, msp
    if spec[0] == "msp_mahalanobis":   # percentiles among the messages being scored, as oos_fit does
        mahalanobis = OosDetector.fit("mahalanobis", bank, bank_intents)
        detector = OosDetector.combined(mahalanobis, msp, vectors)
    else:
        detector = OosDetector.fit(spec[0], bank, bank_intents, k=min(spec[1], len(bank)), negatives=background)
    return detector, detector.scores(vectors, msp)


def held_out_table(probs, vectors, ref_intents, bank, bank_intents, labels, budget, seed, names, background) -> dict:
    """For each candidate, over the intent groups: the share of a held-out group's reference messages it turns
    away at the in-scope budget, and its AUROC (held-out vs kept intents' messages)."""
    labels = np.asarray(labels)
    ref_intents, bank_intents = np.asarray(ref_intents), np.asarray(bank_intents)
    results: dict[str, dict[str, list]] = {name: {"recall": [], "auroc": []} for name in names}
    for held in intent_groups(list(bank_intents), seed):
        kept_columns = ~np.isin(labels, list(held))
        kept = probs[:, kept_columns]
        msp = 1.0 - kept.max(1) / np.maximum(kept.sum(1), 1e-12)   # the head's opinion without the held intents
        correct = labels[kept_columns][kept.argmax(1)] == ref_intents
        unseen = np.isin(ref_intents, list(held))
        if unseen.all() or not unseen.any() or not (correct & ~unseen).any():   # nothing to compare here
            continue
        in_bank = ~np.isin(bank_intents, list(held))
        for name in names:
            _, scores = detector_scores(name, bank[in_bank], list(bank_intents[in_bank]), vectors, msp, background)
            threshold = budget_threshold(scores[~unseen & correct], budget)
            results[name]["recall"].append(float(np.mean(scores[unseen] >= threshold)))
            results[name]["auroc"].append(float(roc_auc_score(unseen, scores)))
    return {name: {key: round(float(np.mean(values)), 4) if values else 0.0 for key, values in row.items()}
            for name, row in results.items()}


def candidate_names(reference_is_training: bool, background: bool) -> list[str]:
    """The scores worth comparing: those reading the intent head only on messages it did not train on (it
    fits its own training messages, so its confidence there says nothing of new ones), knn_negatives only with
    background texts to compare against."""
    return [name for name in CANDIDATES
            if not (reference_is_training and name in READS_THE_HEAD) and (background or name != "knn_negatives")]


def fit_without_oos_data(model, train, validation, budget: float, method: str = "auto", seed: int = 42,
                         background_texts: list[str] = ()) -> str:
    """Choose the score on held-out intents and set its threshold by the in-scope ``budget``; store both in
    the model (and the comparison in its metadata). ``background_texts``: texts that are no request to this
    business (GoEmotions' comments), for knn_negatives. Returns a log line."""
    train_texts, train_intents = list(train["text"]), list(train["intent"])
    if len(set(train_intents)) < MIN_INTENTS:
        return (f"out-of-scope detection: none ({len(set(train_intents))} intent(s): too few to hold some out "
                "as stand-ins for out-of-scope messages; add out-of-scope examples)")
    from_training = validation is None or not len(validation)
    names = candidate_names(from_training, bool(background_texts))
    if method != "auto" and method not in names:
        raise ValueError(f"--oos-method must be auto or one of {names} for this data (no out-of-scope examples"
                         f"{', no validation split' if from_training else ''}), not {method!r}")
    everything = model.outputs(train_texts)   # intent probabilities and sentence vectors, one pass
    vectors, intents = everything.sentence, np.asarray(train_intents)
    background = model.sentence_vectors(list(background_texts)) if background_texts else None
    copies, copied = everyday_copies(train_texts, seed)
    copy_vectors = model.sentence_vectors(copies)

    def banked(rows):   # a fold's bank: its messages and their copies (never a copy of a reference message)
        kept = np.isin(copied, rows)
        return np.concatenate([vectors[rows], copy_vectors[kept]]), np.concatenate([intents[rows],
                                                                                    intents[copied[kept]]])

    if from_training:   # every training message scored against detectors fitted without its fold
        references = [(*banked(bank), everything.intent[held], vectors[held], intents[held])
                      for bank, held in reference_folds(train_intents, seed)]
    else:
        reference = model.outputs(list(validation["text"]))
        references = [(*banked(np.arange(len(intents))), reference.intent, reference.sentence,
                       np.asarray(validation["intent"]))]
    bank, bank_i, probs, ref_vectors, ref_i = references[0]
    table = held_out_table(probs, ref_vectors, ref_i, bank, bank_i, model.intent_labels, budget, seed, names,
                           background)
    chosen = method if method != "auto" else "knn_negatives" if background is not None \
        else max(table, key=lambda name: (table[name]["recall"], table[name]["auroc"]))
    labels, scores, correct = np.asarray(model.intent_labels), [], []
    for bank, bank_i, probs, ref_vectors, ref_i in references:
        scores.append(detector_scores(chosen, bank, list(bank_i), ref_vectors, 1.0 - probs.max(1), background)[1])
        correct.append(labels[probs.argmax(1)] == ref_i)
    scores, correct = np.concatenate(scores), np.concatenate(correct)
    threshold = budget_threshold(scores[correct] if correct.any() else scores, budget)
    if CANDIDATES[chosen] is None:
        model.oos = None
        model.update_metadata(oos_threshold=round(max(0.0, 1.0 - threshold), 4), oos_score_threshold=None)
    else:   # refitted on every training message; the threshold stays (a fuller bank only brings scores down)
        bank, bank_i = banked(np.arange(len(intents)))
        model.oos, _ = detector_scores(chosen, bank, list(bank_i), ref_vectors, 1.0 - probs.max(1), background)
        model.update_metadata(oos_threshold=0.0, oos_score_threshold=threshold)
    model.metadata["oos_selection"] = {"chosen": chosen, "pseudo_out_of_scope": True, "budget": budget,
                                       "reference": "training messages, out of fold" if from_training
                                       else "validation",
                                       "background_texts": len(background_texts), "candidates": table}
    row = table[chosen]
    return (f"out-of-scope detection: {chosen}, without out-of-scope examples (intents held out in turn: it turned "
            f"away {row['recall']:.1%} of an unseen intent's messages, AUROC {row['auroc']:.4f}, at the budget of "
            f"{budget:.2%} of correct in-scope answers)")
