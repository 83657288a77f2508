#!/bin/sh
# fleet_tui's hook command: agents run it for every event they report (Claude Code hooks,
# Codex notify, aider's notifications command). It appends one line to the session's hook
# file, which the fleet server watches:  TOKEN <tab> EVENT <tab> PAYLOAD
#
#   hookrelay.sh EVENT stdin   the event's JSON comes on stdin (its first 4 KB are kept)
#   hookrelay.sh EVENT drain   stdin holds JSON nobody needs: read and drop it
#   hookrelay.sh EVENT [JSON]  the JSON, if any, is the last argument (Codex notify)
#
# POSIX sh and two small tools, not Python: an agent waits for its hooks, and a bare Python
# takes 15-150 ms to start; this takes a few. It never prints (Claude adds a SessionStart
# hook's output to the model's context), never talks to the server (which may be stopped:
# the line waits in the file), and always exits 0 so the agent never sees a failed hook.
# FLEET_HOOK_FILE and FLEET_HOOK_TOKEN come from the environment fleet_tui gave the agent.
exec 2>/dev/null
[ -n "${FLEET_HOOK_FILE-}" ] && [ -n "${FLEET_HOOK_TOKEN-}" ] && [ $# -ge 1 ] || exit 0
body=
case "${2-}" in
  stdin) body=$(tr -d '\n\r' | cut -c1-4096) ;;
  drain) cat >/dev/null ;;
  "{"*) body=$(printf '%s' "$2" | tr -d '\n\r\t' | cut -c1-4096) ;;
esac
printf '%s\t%s\t%s\n' "$FLEET_HOOK_TOKEN" "$1" "$body" >>"$FLEET_HOOK_FILE"
exit 0
