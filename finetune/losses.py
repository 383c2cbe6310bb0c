"""The training losses of the two heads, computed in float32 (bfloat16 log-softmax loses precision)."""
from __future__ import annotations

import torch
import torch.nn.functional as F


def intent_loss(logits: torch.Tensor, target: torch.Tensor, label_smoothing: float, rdrop_alpha: float) -> torch.Tensor:
    """Cross-entropy with label smoothing. With ``rdrop_alpha`` > 0 the batch was run twice (two dropout masks,
    rows [x; x]): both halves are scored, plus alpha times the symmetric KL divergence between them (R-Drop,
    Liang et al. 2021), which asks the model to answer the same whatever dropout removed."""
    logits = logits.float()
    if rdrop_alpha <= 0:
        return F.cross_entropy(logits, target, label_smoothing=label_smoothing)
    first, second = logits.chunk(2)
    ce = (F.cross_entropy(first, target, label_smoothing=label_smoothing)
          + F.cross_entropy(second, target, label_smoothing=label_smoothing)) / 2
    log_p, log_q = F.log_softmax(first, -1), F.log_softmax(second, -1)
    kl = (F.kl_div(log_p, log_q, log_target=True, reduction="batchmean")
          + F.kl_div(log_q, log_p, log_target=True, reduction="batchmean")) / 2
    return ce + rdrop_alpha * kl


def emotion_loss(logits: torch.Tensor, target: torch.Tensor, weight: float,
                 positive_weight: torch.Tensor | None = None) -> torch.Tensor:
    """Binary cross-entropy per label (GoEmotions is multi-label); ``positive_weight`` scales each label's
    positive examples (see emotion_positive_weights)."""
    return weight * F.binary_cross_entropy_with_logits(logits.float(), target, pos_weight=positive_weight)


def emotion_positive_weights(targets, power: float) -> torch.Tensor | None:
    """Per label (negatives / positives) ** power, or None for power 0. Macro-F1 counts a label with 77
    training positives (grief) like one with 14,000 (neutral); without weights the rare labels' few positives
    barely move the shared encoder. Power 0.5 (the square root) lifts them without drowning the negatives."""
    if power <= 0:
        return None
    positives = torch.as_tensor(targets, dtype=torch.float32).sum(0).clamp(min=1.0)
    return ((len(targets) - positives) / positives).clamp(min=1.0) ** power
