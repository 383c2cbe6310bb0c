"""The neural network: one shared Transformer encoder, mean pooling, an intent head and an emotion head.

One forward pass gives both heads' logits, so routing and emotion scoring cost a single encoder pass.
"""
from __future__ import annotations

import torch
from torch import nn


def mean_pool(hidden: torch.Tensor, attention_mask: torch.Tensor) -> torch.Tensor:
    """Average the token vectors, ignoring padding (the pooling all-MiniLM-L6-v2 was trained with)."""
    mask = attention_mask.unsqueeze(-1).to(hidden.dtype)
    return (hidden * mask).sum(1) / mask.sum(1).clamp(min=1e-9)


class HelplineNetwork(nn.Module):
    def __init__(self, encoder: nn.Module, n_intents: int, n_emotions: int, dropout: float = 0.1):
        super().__init__()
        self.encoder = encoder
        hidden = encoder.config.hidden_size
        self.dropout = nn.Dropout(dropout)
        self.intent_head = nn.Linear(hidden, n_intents)
        self.emotion_head = nn.Linear(hidden, n_emotions)

    def embed(self, input_ids, attention_mask, token_type_ids=None) -> torch.Tensor:
        kwargs = {"input_ids": input_ids, "attention_mask": attention_mask}
        if token_type_ids is not None:
            kwargs["token_type_ids"] = token_type_ids
        hidden = self.encoder(**kwargs).last_hidden_state
        return mean_pool(hidden, attention_mask)

    def forward(self, input_ids, attention_mask, token_type_ids=None):
        """(intent logits, emotion logits)."""
        return self.heads(self.embed(input_ids, attention_mask, token_type_ids))

    def heads(self, pooled: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """(intent logits, emotion logits) of pooled sentence vectors (dropout while training)."""
        dropped = self.dropout(pooled)
        return self.intent_head(dropped), self.emotion_head(dropped)

    def head_state_dict(self) -> dict[str, torch.Tensor]:
        """The heads' weights, saved beside the encoder (which is saved in Hugging Face format)."""
        return {f"{name}.{k}": v.contiguous() for name in ("intent_head", "emotion_head")
                for k, v in getattr(self, name).state_dict().items()}

    def load_head_state_dict(self, state: dict[str, torch.Tensor]) -> None:
        for name in ("intent_head", "emotion_head"):
            head = getattr(self, name)
            head.load_state_dict({k.split(".", 1)[1]: v for k, v in state.items() if k.startswith(name + ".")})
