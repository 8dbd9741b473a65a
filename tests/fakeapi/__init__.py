"""Scripted fake LLM APIs on 127.0.0.1 for driving the real agent CLIs offline.

:mod:`tests.fakeapi.anthropic` speaks the Anthropic Messages API (Claude Code),
:mod:`tests.fakeapi.openai_responses` the OpenAI Responses API (Codex); both build on
:mod:`tests.fakeapi.server`.
"""
