#!/usr/bin/env bash
# Install the real agent CLIs that tests/agents drive: Claude Code, Codex and Gemini CLI
# from the npm registry into PREFIX (npm install --prefix, nothing global), and aider
# into the virtualenv VENV. Afterwards point the tests at them with
#   FLEET_AGENT_BIN=PREFIX/node_modules/.bin:VENV/bin
# (the tests also look in /tmp/agents/node_modules/.bin and /tmp/aider-venv/bin).
#
# usage: scripts/install-agent-clis.sh [PREFIX] [VENV]
#        defaults: /tmp/agents /tmp/aider-venv
#
# Fails soft: an unreachable registry (or no npm / no python3) prints one line per
# missing CLI and the script still exits 0, so the tests that need the CLI skip.
set -u

PREFIX=${1:-/tmp/agents}
VENV=${2:-/tmp/aider-venv}
NPM_PACKAGES=(@anthropic-ai/claude-code @openai/codex @google/gemini-cli)
status=0

if command -v npm >/dev/null 2>&1; then
    mkdir -p "$PREFIX"
    if npm install --prefix "$PREFIX" --no-audit --no-fund --no-update-notifier \
            --loglevel=error "${NPM_PACKAGES[@]}" >"$PREFIX/npm-install.log" 2>&1; then
        echo "install-agent-clis: npm CLIs in $PREFIX/node_modules/.bin"
    else
        echo "install-agent-clis: npm install failed (registry unreachable?); see $PREFIX/npm-install.log;" \
             "tests needing claude/codex/gemini will skip" >&2
        status=1
    fi
else
    echo "install-agent-clis: npm not found; tests needing claude/codex/gemini will skip" >&2
    status=1
fi

if command -v python3 >/dev/null 2>&1; then
    if { [ -x "$VENV/bin/python" ] || python3 -m venv "$VENV"; } \
            && "$VENV/bin/python" -m pip install --quiet --disable-pip-version-check aider-chat \
               >"$VENV/pip-install.log" 2>&1; then
        echo "install-agent-clis: aider in $VENV/bin"
    else
        echo "install-agent-clis: aider install failed (index unreachable?); see $VENV/pip-install.log;" \
             "tests needing aider will skip" >&2
        status=1
    fi
else
    echo "install-agent-clis: python3 not found; tests needing aider will skip" >&2
    status=1
fi

[ "$status" = 0 ] || echo "install-agent-clis: some CLIs are missing (see above); continuing" >&2
exit 0
