"""Deployment settings, read from the environment through bot/config.py (where every variable, its default and
its meaning are listed), checked here; some are also command-line flags of app.py."""
from __future__ import annotations

import ipaddress
import re
from dataclasses import dataclass
from pathlib import Path

from bot.config import listed, value
from bot.conversation.policy import DEFAULT_POLICY
from bot.model.batch_plan import usable_cores
from bot.serving.ratelimit import parse_spec
from intents import DEFAULT_CATALOGUE


@dataclass
class Settings:
    model_dir: str = "models/default"               # HELPLINE_MODEL
    catalogue: str = str(DEFAULT_CATALOGUE)          # HELPLINE_CATALOGUE
    data_dir: str = "../shared/datasets"             # HELPLINE_DATA: public datasets for the first-start model
    db: str = "sqlite:///helpline.db"                # HELPLINE_DB: SQLAlchemy URL of the conversation store
    policy: str = str(DEFAULT_POLICY)                # HELPLINE_POLICY: dialogue policy YAML
    agent_token: str | None = None                   # HELPLINE_AGENT_TOKEN: bearer token for automation
    onnx_threads: int | None = None                  # HELPLINE_ONNX_THREADS: per process (default: its share of cores)
    workers: int | None = None                       # HELPLINE_WORKERS: turn worker processes (default: cores)
    widget_origins: tuple[str, ...] = ()             # HELPLINE_WIDGET_ORIGINS: sites that may embed the widget
    rate_limits: str = "on"                          # HELPLINE_RATE_LIMITS: on, off, or NAME=N/period;...
    rate_limit_storage: str = "memory://"            # HELPLINE_RATE_LIMIT_STORAGE: memory:// or redis://host:port
    retention_days: int = 365                        # HELPLINE_RETENTION_DAYS: 0 keeps conversations forever
    trusted_proxies: tuple[str, ...] = ()            # HELPLINE_TRUSTED_PROXIES: proxy addresses/CIDRs (X-Forwarded-For)
    secret: str | None = None                        # HELPLINE_SECRET: key of the stored client-address hashes
    upload_cache_mb: int = 512                       # HELPLINE_UPLOAD_CACHE_MB: uploads refused past it

    def __post_init__(self):
        check_agent_token(self.agent_token)
        self.widget_origins = tuple(check_origin(o) for o in self.widget_origins)
        self.trusted_proxies = tuple(check_proxy(p) for p in self.trusted_proxies)
        parse_spec(self.rate_limits)

    @classmethod
    def from_env(cls) -> Settings:
        return cls(model_dir=value("HELPLINE_MODEL"), catalogue=value("HELPLINE_CATALOGUE") or cls.catalogue,
                   data_dir=value("HELPLINE_DATA"), db=value("HELPLINE_DB"),
                   policy=value("HELPLINE_POLICY") or cls.policy, agent_token=value("HELPLINE_AGENT_TOKEN"),
                   onnx_threads=_count("HELPLINE_ONNX_THREADS", "threads", minimum=1),
                   workers=_count("HELPLINE_WORKERS", "worker processes", minimum=0),
                   widget_origins=tuple(listed("HELPLINE_WIDGET_ORIGINS")),
                   rate_limits=value("HELPLINE_RATE_LIMITS"), rate_limit_storage=value("HELPLINE_RATE_LIMIT_STORAGE"),
                   retention_days=_count("HELPLINE_RETENTION_DAYS", "days", minimum=0),
                   trusted_proxies=tuple(listed("HELPLINE_TRUSTED_PROXIES")), secret=value("HELPLINE_SECRET"),
                   upload_cache_mb=_count("HELPLINE_UPLOAD_CACHE_MB", "megabytes", minimum=1))

    def load_classifier(self, model_dir: str):
        """The serving classifier: ONNX Runtime's threads sleep between calls instead of spinning (in the app
        they share the cores with the request threads; RESULTS.md, Load)."""
        from bot.model.helpline_model import HelplineModel

        return HelplineModel.from_pretrained(model_dir, threads=self.onnx_threads, spin=False)

    @property
    def turn_workers(self) -> int:
        """Processes that run the REST API's chat turns (bot/serving/workers.py): one per core unless set; none (turns
        in the app process) on a single core, where a second process only adds the hand-over."""
        if self.workers is not None:
            return self.workers
        cores = usable_cores()
        return cores if cores > 1 else 0

    @property
    def emotion_data(self) -> str:
        """GoEmotions for the first-start model: the local copy, or the Hub id for users online."""
        local = Path(self.data_dir) / "goemotions" / "original"
        return str(local) if local.is_dir() else "google-research-datasets/go_emotions"


MIN_TOKEN_CHARS = 24


def check_agent_token(token: str | None) -> None:
    """The automation token opens every agent endpoint: refuse one short enough to guess."""
    if token is not None and len(token) < MIN_TOKEN_CHARS:
        raise ValueError(f"HELPLINE_AGENT_TOKEN is {len(token)} characters; use at least {MIN_TOKEN_CHARS} random "
                         "ones, e.g. `python -c 'import secrets; print(secrets.token_urlsafe(32))'`")


def check_origin(origin: str) -> str:
    """An origin the widget may be embedded on: scheme://host[:port], or * for any site."""
    if origin == "*" or re.fullmatch(r"https?://[A-Za-z0-9.-]+(:\d{1,5})?", origin):
        return origin
    raise ValueError(f"HELPLINE_WIDGET_ORIGINS: {origin!r} is not an origin such as https://shop.example.com "
                     "(scheme and host, no path), or *")


def check_proxy(proxy: str) -> str:
    """A reverse proxy whose X-Forwarded-For is believed: an address or a network (CIDR). Not "*": then every
    client could name any address in the header and step around every per-address limit."""
    try:
        ipaddress.ip_network(proxy, strict=False)
    except ValueError:
        raise ValueError(f"HELPLINE_TRUSTED_PROXIES / --forwarded-allow-ips: {proxy!r} is not an address or a "
                         "network such as 10.0.0.0/8 (give your proxy's; '*' would let any client choose the "
                         "address every limit counts)") from None
    return proxy


def _count(variable: str, what: str, minimum: int) -> int | None:
    raw = value(variable)
    if not raw:
        return None
    if not raw.strip().isdigit() or int(raw) < minimum:
        raise ValueError(f"{variable} must be a whole number of {what} ({minimum} or more), not {raw!r}")
    return int(raw)

