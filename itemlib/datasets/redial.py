"""ReDial: recommendation dialogues people wrote, as test cases over a movie catalog.

ReDial (Li et al., "Towards Deep Conversational Recommendations", NeurIPS 2018; CC BY 4.0) pairs
a seeker asking for movies with a recommender suggesting them; every movie mention is marked
(``@<ReDial id>``) and named ``"Title (Year)"``. :func:`load_redial` links the mentions to a
catalog by title and year (:class:`TitleYearLinker`) and applies the field's protocol: each
recommender message that names a linked movie not mentioned before is a test case, its query what
the seeker has said so far (mentions written out as their titles), its answers the new movies, and
every movie mentioned earlier masked. The cases have the form of the study's generated dialogues
(``query``, ``pos_ids``, ``mask_ids``, ``user_turns``), so every retriever, the Chat-Rec
re-ranker and the paired comparisons apply unchanged. What the linker loses is counted in the
report, never dropped silently.

The files are read from ``../shared/data/redial/`` (or ``$ITEMLIB_REDIAL_DIR``) and never copied.
"""

from __future__ import annotations

import gzip
import json
import re
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

from itemlib.catalog import Catalog, CatalogError
from itemlib.datasets.shared import shared_dir

SPLITS = {"train": "train_data.jsonl.gz", "valid": "valid_data.jsonl.gz"}
MENTION = re.compile(r"@(\d+)")
NAME = re.compile(r"^(?P<title>.*?)\s*\((?P<year>\d{4})\)\s*$")
ARTICLES = ("the", "a", "an")
REQUIRED = ("messages", "movieMentions", "initiatorWorkerId")


def default_redial_dir() -> Path:
    """``$ITEMLIB_REDIAL_DIR``, else the project's ``../shared/data/redial`` seen from cwd or package."""
    return shared_dir("redial", SPLITS["valid"], "ITEMLIB_REDIAL_DIR")


def redial_available() -> bool:
    """Whether this machine has the ReDial files (the study leaves its section out otherwise)."""
    return all((default_redial_dir() / name).exists() for name in SPLITS.values())


def title_key(title: str) -> str:
    """A title as the linker compares it: lower case, letters and digits only, a trailing article
    moved to the front ("Matrix, The" -> "the matrix")."""
    words = re.findall(r"[^\W_]+", title.lower())
    if len(words) > 1 and words[-1] in ARTICLES and re.search(r",\s*(the|a|an)\s*$", title.lower()):
        words = [words[-1], *words[:-1]]
    return " ".join(words)


def title_variants(title: str) -> set[str]:
    """The keys an item can be found under: its title, the part before an alternative title in
    brackets, each alternative ("Seven (a.k.a. Se7en)", "Das Boot (Boat, The)"), each also without a
    leading article ("The Hangover" is named "Hangover")."""
    main = re.sub(r"\s*\(.*\)\s*$", "", title)
    alternatives = [re.sub(r"^\s*a\.k\.a\.\s*", "", a) for a in re.findall(r"\(([^()]*)\)", title)]
    keys = {title_key(t) for t in (title, main, *alternatives)}
    return {variant for key in keys for variant in with_and_without_article(key)} - {""}


def with_and_without_article(key: str) -> list[str]:
    """A title key, and the same without its leading article when it has one."""
    first, _, rest = key.partition(" ")
    return [key, rest] if first in ARTICLES and rest else [key]


class TitleYearLinker:
    """Links ``"Title (Year)"`` names to a catalog's items (:func:`title_variants`): the same year
    first, else a year off by one (release and festival years differ); a name without a year by its
    title alone when one item has it; a name that fits several items equally is not linked."""

    def __init__(self, catalog: Catalog, year_field: str = "year") -> None:
        self.by_key: dict[tuple[str, int | None], set[str]] = {}
        self.by_title: dict[str, set[str]] = {}
        for item in catalog.items:
            year = getattr(item.fields.get(year_field), "year", None)
            for key in title_variants(item.title):
                self.by_key.setdefault((key, year), set()).add(item.id)
                self.by_title.setdefault(key, set()).add(item.id)

    def link(self, name: str) -> str | None:
        """The catalog id of a ReDial movie name, or None when no single item matches."""
        match = NAME.match(" ".join(name.split()))
        title, year = (match["title"], int(match["year"])) if match else (name, None)
        keys = with_and_without_article(title_key(title))
        for candidate in (year, year - 1, year + 1) if year is not None else ():
            found = set().union(*(self.by_key.get((key, candidate), set()) for key in keys))
            if len(found) == 1:
                return next(iter(found))
        if year is not None:
            return None  # a year that fits no item: another film of the same name, or one the catalog lacks
        found = set().union(*(self.by_title.get(key, set()) for key in keys))
        return next(iter(found)) if len(found) == 1 else None


@dataclass
class RedialCases:
    """The test cases of one split and what linking and the protocol counted on the way."""

    split: str
    cases: list[dict]
    report: dict[str, int] = field(default_factory=dict)

    @property
    def linked_share(self) -> float:
        """The share of distinct mentioned movies linked to the catalog."""
        return self.report["movies linked"] / max(self.report["movies mentioned"], 1)


def read_dialogues(path: Path) -> list[dict]:
    """The dialogues of one ReDial file; a malformed line is an error naming the file and line."""
    dialogues = []
    with gzip.open(path, "rt", encoding="utf-8") as handle:
        for number, line in enumerate(handle, start=1):
            try:
                dialogue = json.loads(line)
            except json.JSONDecodeError as error:
                raise CatalogError(f"{path}:{number}: malformed JSON line ({error.msg})") from None
            if not isinstance(dialogue, dict) or not set(REQUIRED) <= set(dialogue):
                raise CatalogError(f"{path}:{number}: not a ReDial dialogue ({', '.join(REQUIRED)})")
            dialogues.append(dialogue)
    return dialogues


def load_redial(catalog: Catalog, split: str = "valid", directory: str | Path | None = None) -> RedialCases:
    """The test cases of a ReDial ``split`` (``train`` or ``valid``) over ``catalog`` (module docstring)."""
    if split not in SPLITS:
        raise ValueError(f"unknown ReDial split {split!r}; splits are {', '.join(SPLITS)}")
    path = Path(directory or default_redial_dir()) / SPLITS[split]
    if not path.exists():
        raise CatalogError(f"{path}: no ReDial file (see ../shared/data/redial/README.md or set $ITEMLIB_REDIAL_DIR)")
    linker = TitleYearLinker(catalog)
    report: Counter[str] = Counter()
    names: dict[str, str] = {}
    links: dict[str, str | None] = {}
    cases = []
    for dialogue in read_dialogues(path):
        report["dialogues"] += 1
        mentions = {str(k): str(v) for k, v in (dialogue["movieMentions"] or {}).items()}
        names.update(mentions)
        for movie, name in mentions.items():
            links.setdefault(movie, linker.link(name))
        seeker, said, mentioned = dialogue["initiatorWorkerId"], [], []
        for message in dialogue["messages"]:
            ids = MENTION.findall(message["text"])
            text = MENTION.sub(lambda m: names.get(m[1], "a movie"), message["text"])
            if message["senderWorkerId"] == seeker:
                said.append(text)
            else:
                new = [m for m in dict.fromkeys(ids) if m not in mentioned]
                targets = [links.get(m) for m in new]
                report["recommendations of a new movie"] += bool(new)
                report["recommended movies not linked"] += sum(t is None for t in targets)
                if any(targets) and not said:
                    report["recommendations before the seeker said anything (skipped)"] += 1
                elif any(targets):
                    masked = {links[m] for m in mentioned if links.get(m)}
                    answers = {t for t in targets if t} - masked  # two ReDial ids may name one catalog movie
                    if answers:
                        name = str(dialogue.get("conversationId", report["dialogues"]))
                        cases.append({"query": "\n".join(said), "pos_ids": sorted(answers), "mask_ids": sorted(masked),
                                      "user_turns": len(said), "dialogue": name})  # fmt: skip
            mentioned += [m for m in ids if m not in mentioned]
    report["movies mentioned"] = len(links)
    report["movies linked"] = sum(v is not None for v in links.values())
    report["test cases"] = len(cases)
    return RedialCases(split, cases, dict(report))
