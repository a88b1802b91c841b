"""Policy settings: validation at config load, with errors that say what to fix."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from pydantic import ValidationError

from llmgateway.errors import ConfigError
from llmgateway.guardrails.policy.engine import ContentPolicy
from llmgateway.guardrails.policy.settings import BlocklistEntry, ClassifierConfig, PolicyConfig


def test_defaults() -> None:
    config = PolicyConfig()
    assert config.blocklist == [] and config.blocklist_file is None and config.check_output
    classifier = ClassifierConfig(kind="moderation", base_url="http://x/v1")
    assert classifier.stages == ["input", "output"] and classifier.on_error == "block"
    assert classifier.threshold == 0.5 and classifier.timeout == 10.0 and classifier.categories is None


def test_an_invalid_pattern_fails_at_load_with_its_index_and_reason() -> None:
    with pytest.raises(ValidationError) as info:
        BlocklistEntry(category="x", patterns=["fine", "secret(unclosed"])
    message = str(info.value)
    assert "pattern 1" in message and "not a valid Python regex" in message and "missing )" in message


def test_a_pattern_matching_the_empty_string_is_refused() -> None:
    with pytest.raises(ValidationError, match="matches the empty string"):
        BlocklistEntry(patterns=["a*"])


def test_empty_terms_are_refused() -> None:
    with pytest.raises(ValidationError, match="term 0 is empty"):
        BlocklistEntry(terms=["  "])


def test_unknown_keys_are_refused() -> None:
    with pytest.raises(ValidationError):
        PolicyConfig.model_validate({"blocklists": []})
    with pytest.raises(ValidationError):
        BlocklistEntry.model_validate({"term": ["x"]})


def test_a_classifier_needs_its_kind_settings() -> None:
    with pytest.raises(ValidationError, match="needs callable"):
        ClassifierConfig(kind="callable")
    with pytest.raises(ValidationError, match="needs callable"):
        ClassifierConfig(kind="callable", callable="no_colon_here")
    with pytest.raises(ValidationError, match="needs base_url"):
        ClassifierConfig(kind="moderation")
    with pytest.raises(ValidationError):
        ClassifierConfig(kind="moderation", base_url="http://x/v1", stages=["during"])  # type: ignore[list-item]
    with pytest.raises(ValidationError):
        ClassifierConfig(kind="moderation", base_url="http://x/v1", threshold=1.5)


def test_the_api_key_is_not_in_the_repr() -> None:
    config = ClassifierConfig(kind="moderation", base_url="http://x/v1", api_key="sk-very-secret")
    assert "sk-very-secret" not in repr(config)


async def test_a_blocklist_file_in_yaml_is_merged(tmp_path: Path) -> None:
    file = tmp_path / "blocklist.yaml"
    file.write_text("- {category: drugs, terms: [meth lab]}\n- category: cards\n  patterns: ['\\d{16}']\n")
    policy = ContentPolicy.from_config(
        PolicyConfig(
            blocklist=[BlocklistEntry(category="weapons", terms=["pipe bomb"])], blocklist_file=str(file)
        )
    )
    assert policy.blocklist.search("a meth  lab").category == "drugs"  # type: ignore[union-attr]
    assert policy.blocklist.search("4111111111111111").category == "cards"  # type: ignore[union-attr]
    assert policy.blocklist.search("pipe bomb").category == "weapons"  # type: ignore[union-attr]


async def test_a_blocklist_file_in_json_is_merged(tmp_path: Path) -> None:
    file = tmp_path / "blocklist.json"
    file.write_text(json.dumps([{"category": "json", "terms": ["forbidden phrase"]}]))
    policy = ContentPolicy.from_config(PolicyConfig(blocklist_file=str(file)))
    assert policy.blocklist.search("a Forbidden Phrase!").category == "json"  # type: ignore[union-attr]


def test_blocklist_file_errors_name_the_file_and_the_entry(tmp_path: Path) -> None:
    missing = tmp_path / "missing.yaml"
    with pytest.raises(ConfigError, match="cannot read config file"):
        ContentPolicy.from_config(PolicyConfig(blocklist_file=str(missing)))
    not_a_list = tmp_path / "mapping.yaml"
    not_a_list.write_text("weapons: [pipe bomb]\n")
    with pytest.raises(ConfigError, match="holds a list of entries"):
        ContentPolicy.from_config(PolicyConfig(blocklist_file=str(not_a_list)))
    bad_pattern = tmp_path / "bad.yaml"
    bad_pattern.write_text("- {terms: [ok]}\n- {patterns: ['(']}\n")
    with pytest.raises(ConfigError) as info:
        ContentPolicy.from_config(PolicyConfig(blocklist_file=str(bad_pattern)))
    assert str(bad_pattern) in str(info.value) and "[1].patterns" in str(info.value)
    assert "not a valid Python regex" in str(info.value)
