"""The consent keyword table (``harness/data/consent_keywords.yaml``) and how labels match it.

Latin-script keywords match on word boundaries ("no" must not match "notice", "ok" not
"book"); CJK keywords match as substrings, since Chinese has no spaces between words. A button
label may be at most ``2 x keyword + 4`` characters long (Altpeter's length limit), so a
sentence that merely contains "agree" is never read as a button.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any, Literal

import yaml

from harness.errors import InputError
from harness.resources import data_dir

#: What a control's label means for consent.
LabelKind = Literal["accept", "ambiguous", "reject", "neither"]

_LIST_KEYS = ("privacy_terms", "accept", "accept_ambiguous", "reject", "negators", "neither",
              "other_actions")
_PERMISSION_KEYS = ("packages", "allow_ids", "deny_ids", "allow_texts", "deny_texts")
_LATIN = "0-9a-zà-öø-ÿß'"
_CJK = re.compile(r"[\u3000-\u9fff\uf900-\ufaff]")
_LINK_QUOTES = ("《", "「", "『", "【")
_ID_KINDS: tuple[LabelKind, ...] = ("reject", "neither", "accept", "ambiguous")
_ID_WORD = re.compile(r"[A-Z]?[a-z]+|[A-Z]+(?![a-z])|\d+")


def normalize(label: str) -> str:
    """Lower-case, NFKC (full-width letters become ASCII), one space between words."""
    return " ".join(unicodedata.normalize("NFKC", label).lower().split()).replace("’", "'")


def is_cjk(text: str) -> bool:
    return bool(_CJK.search(text))


@dataclass(frozen=True, slots=True)
class Phrases:
    """One keyword list, compiled into a single alternation (longest keyword first)."""

    words: tuple[str, ...]
    pattern: re.Pattern[str]

    @classmethod
    def of(cls, words: list[str]) -> Phrases:
        ordered = tuple(sorted({normalize(w) for w in words}, key=len, reverse=True))
        parts = []
        for word in ordered:
            escaped = re.escape(word)
            parts.append(escaped if is_cjk(word) else f"(?<![{_LATIN}]){escaped}(?![{_LATIN}])")
        return cls(ordered, re.compile("|".join(parts) if parts else r"(?!x)x"))

    def search(self, text: str) -> re.Match[str] | None:
        return self.pattern.search(normalize(text))

    def label_match(self, label: str) -> re.Match[str] | None:
        """A match only if ``label`` is short enough to be a button naming the keyword."""
        text = normalize(label)
        for match in self.pattern.finditer(text):
            if len(text) <= 2 * len(match.group()) + 4:
                return match
        return None


@dataclass(frozen=True, slots=True)
class PermissionWords:
    packages: frozenset[str]
    allow_ids: frozenset[str]
    deny_ids: frozenset[str]
    allow_texts: frozenset[str]
    deny_texts: frozenset[str]


@dataclass(frozen=True, slots=True)
class Keywords:
    privacy_terms: Phrases
    accept: Phrases
    accept_ambiguous: Phrases
    reject: Phrases
    negators: Phrases
    neither: Phrases
    other_actions: Phrases
    permission: PermissionWords
    id_tokens: dict[LabelKind, frozenset[str]]

    def classify(self, label: str) -> LabelKind | None:
        """What tapping a control with this label means, or None when it says nothing about
        consent. Refusal wins over agreement ("Einstellungen oder ablehnen" is a refusal path),
        and a negated agreement ("I do not agree", 暂不同意) is a refusal."""
        text = normalize(label)
        if not text or text.startswith(_LINK_QUOTES):
            return "neither" if text else None  # 《隐私政策》 opens the policy text
        if self.reject.label_match(text):
            return "reject"
        for kind, phrases in (("accept", self.accept), ("ambiguous", self.accept_ambiguous)):
            match = phrases.label_match(text)
            if match is None:
                continue
            if self._negated(text, match):
                return "reject"
            if kind == "ambiguous" and self.neither.label_match(text):
                return "neither"
            return "accept" if kind == "accept" else "ambiguous"
        return "neither" if self.neither.label_match(text) else None

    def classify_id(self, resource_id: str) -> LabelKind | None:
        """What a label-less control means, from the words of its resource-id name."""
        name = resource_id.rsplit(":id/", 1)[-1]
        words = {w.lower() for w in _ID_WORD.findall(name)}
        for kind in _ID_KINDS:
            if words & self.id_tokens[kind]:
                return kind
        return None

    def is_other_action(self, label: str) -> bool:
        """Login, sign-up, update and rating buttons: their screens are not consent dialogs."""
        return self.other_actions.label_match(label) is not None

    def _negated(self, text: str, match: re.Match[str]) -> bool:
        if is_cjk(match.group()):
            prefix = text[: match.start()]
            return any(prefix.endswith(n) for n in self.negators.words if is_cjk(n))
        latin = [n for n in self.negators.words if not is_cjk(n)]
        return any(re.search(f"(?<![{_LATIN}]){re.escape(n)}(?![{_LATIN}])", text)
                   for n in latin)


def _string_list(value: Any, where: str, source: str) -> list[str]:
    if not isinstance(value, list) or not all(isinstance(v, str) and v.strip() for v in value):
        raise InputError(f"{source}: {where} must be a list of non-empty strings; "
                         "fix the entry or restore the file from the consentry source")
    return value


def parse_keywords(text: str, source: str) -> Keywords:
    """Build :class:`Keywords` from the YAML text; a bad table names the file and the key."""
    try:
        raw = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f":{mark.line + 1}" if mark is not None else ""
        raise InputError(
            f"{source}{where}: not valid YAML ({exc}); fix the keyword table") from None
    if not isinstance(raw, dict):
        raise InputError(f"{source}: expected a mapping with keys {', '.join(_LIST_KEYS)}")
    missing = [k for k in (*_LIST_KEYS, "permission") if k not in raw]
    if missing:
        raise InputError(f"{source}: missing key(s) {', '.join(missing)}; every keyword list "
                         "is required (use [] for an empty one)")
    permission = raw["permission"]
    if not isinstance(permission, dict):
        raise InputError(f"{source}: permission must be a mapping of {', '.join(_PERMISSION_KEYS)}")
    perm = {k: frozenset(normalize(v) for v in
                         _string_list(permission.get(k), f"permission.{k}", source))
            for k in _PERMISSION_KEYS}
    lists = {k: Phrases.of(_string_list(raw[k], k, source)) for k in _LIST_KEYS}
    id_raw = raw.get("id_tokens")
    if not isinstance(id_raw, dict):
        raise InputError(f"{source}: id_tokens must be a mapping of {', '.join(_ID_KINDS)}")
    id_tokens = {kind: frozenset(w.lower() for w in
                                 _string_list(id_raw.get(kind), f"id_tokens.{kind}", source))
                 for kind in _ID_KINDS}
    return Keywords(**lists, permission=PermissionWords(**perm), id_tokens=id_tokens)


def load_keywords(path: Path) -> Keywords:
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise InputError(f"{path}: cannot read the consent keyword table ({exc}); "
                         "reinstall consentry or pass a readable YAML file") from None
    return parse_keywords(text, str(path))


@cache
def default_keywords() -> Keywords:
    """The table shipped with consentry, read once."""
    return load_keywords(data_dir() / "consent_keywords.yaml")
