"""The agents' registry lists the built-in agents by name and imports an agent's module
when it is first looked up (issue 11: the window lists ``embedded:AGENT`` targets before
its first paint without importing the pipeline agents)."""

from __future__ import annotations

import importlib
import subprocess
import sys
import textwrap

import pytest

from voicedesk.agent import registry
from voicedesk.errors import ConfigError


def test_each_builtin_module_registers_exactly_the_names_listed_for_it():
    for module in set(registry.BUILTIN_AGENTS.values()):
        importlib.import_module(module)
    by_module: dict[str, set[str]] = {}
    for name, agent in registry._AGENTS.items():
        if agent.__module__.startswith("voicedesk."):
            by_module.setdefault(agent.__module__, set()).add(name)
    listed: dict[str, set[str]] = {}
    for name, module in registry.BUILTIN_AGENTS.items():
        listed.setdefault(module, set()).add(name)
    assert by_module == listed


def test_lookups_find_the_builtin_agents():
    assert registry.agent_names() == ["echo", "parrot", "script", "tone", "voice"]
    assert registry.check_agent_name(" Parrot ") == "parrot"
    assert registry.agent_sends_events("parrot")
    assert not registry.agent_sends_events("echo")
    assert not registry.agent_sends_events("nobody")
    assert "llm_key" in registry.secret_option_names()
    with pytest.raises(ConfigError, match="choose one of echo, parrot, script, tone, voice"):
        registry.agent_class("nobody")


def test_listing_imports_no_agent_and_a_lookup_imports_only_its_own():
    script = textwrap.dedent(
        """
        import sys
        import voicedesk.agent  # what the voicedesk.dialects entry point loads
        from voicedesk.agent.registry import agent_names, check_agent_name
        from voicedesk.rtc.signaling import dialect_for_target
        assert "echo" in agent_names()
        assert dialect_for_target("embedded:echo")[0].kind == "embedded"
        heavy = ("voicedesk.agent.agents", "voicedesk.agent.voice_agents", "voicedesk.agent.pipeline")
        print(*[m for m in heavy if m in sys.modules])
        check_agent_name("echo")
        print(*[m for m in heavy if m in sys.modules])
        """
    )
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr[-2000:]
    assert result.stdout.split("\n")[:2] == ["", "voicedesk.agent.agents"]
