"""Reviewer, in Python: checks a change's staged files before anything is tested.

The same role as plugins/reviewer (Rust), built with componentize-py against
the `reviewer` world of wit/ (agentward:host@0.1.1).

Input (`task.input`): a ReviewTask as JSON; output (`report.output`): a
SignOff as JSON, with exactly the fields of plugins/handoff. The change is
refused when it commits a plaintext credential, touches a file outside the
allowed names (config `allowed_files`, file-name suffixes, default
[".npmrc"]), or hands off a version other than the one under review. The
current files are read through `workspace` to count what changed.
"""

import json

from componentize_py_types import Err
from wit_world import exports
from wit_world.exports.agent import Report, Task
from wit_world.imports import log, workspace
from wit_world.imports.types import Error_NotFound

DEFAULT_ALLOWED = [".npmrc"]
U32_MAX = 2**32 - 1


class Malformed(Exception):
    """The task does not have the shape of a ReviewTask."""


def _record(value, where, fields):
    """`value` as a dict holding exactly `fields` (name -> required?).

    Unknown fields are refused, as the Rust side's `deny_unknown_fields`
    does; a missing optional field reads as None, as serde's `Option` does.
    """
    if not isinstance(value, dict):
        raise Malformed(f"{where}: expected an object")
    unknown = sorted(set(value) - set(fields))
    if unknown:
        raise Malformed(f"{where}: unknown field `{unknown[0]}`")
    for name, required in fields.items():
        if required and name not in value:
            raise Malformed(f"{where}: missing field `{name}`")
    return value


def _string(value, where):
    if not isinstance(value, str):
        raise Malformed(f"{where}: expected a string")
    return value


def _optional_string(value, where):
    return None if value is None else _string(value, where)


def _u32(value, where):
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= U32_MAX:
        raise Malformed(f"{where}: expected an unsigned 32-bit integer")
    return value


def _list(value, where):
    if not isinstance(value, list):
        raise Malformed(f"{where}: expected an array")
    return value


def parse_review_task(text):
    """The ReviewTask in `text`, checked field by field."""
    try:
        raw = json.loads(text)
    except ValueError as e:
        raise Malformed(str(e)) from None
    task = _record(
        raw,
        "ReviewTask",
        {"path": True, "version": True, "changes": True, "proposed": True, "config": False},
    )
    changes = _record(
        task["changes"],
        "changes",
        {
            "path": True,
            "version": True,
            "credential_id": False,
            "expires": False,
            "staged": True,
            "validation": True,
        },
    )
    _optional_string(changes.get("credential_id"), "changes.credential_id")
    _optional_string(changes.get("expires"), "changes.expires")
    staged = []
    for n, item in enumerate(_list(changes["staged"], "changes.staged")):
        where = f"changes.staged[{n}]"
        item = _record(item, where, {"root": True, "file": True})
        staged.append(
            (_string(item["root"], f"{where}.root"), _string(item["file"], f"{where}.file"))
        )
    for n, check in enumerate(_list(changes["validation"], "changes.validation")):
        where = f"changes.validation[{n}]"
        check = _record(check, where, {"name": True, "passed": True, "detail": True})
        _string(check["name"], f"{where}.name")
        _string(check["detail"], f"{where}.detail")
        if not isinstance(check["passed"], bool):
            raise Malformed(f"{where}.passed: expected a boolean")
    proposed = [
        _string(p, f"proposed[{n}]") for n, p in enumerate(_list(task["proposed"], "proposed"))
    ]
    return {
        "path": _string(task["path"], "path"),
        "version": _u32(task["version"], "version"),
        "changes_path": _string(changes["path"], "changes.path"),
        "changes_version": _u32(changes["version"], "changes.version"),
        "staged": staged,
        "proposed": proposed,
        "config": task.get("config"),
    }


def allowed_files(config):
    """The `allowed_files` suffixes of the review step's config."""
    if config is None:
        config = {}
    config = _record(config, "config", {"allowed_files": False})
    if "allowed_files" not in config:
        return list(DEFAULT_ALLOWED)
    suffixes = _list(config["allowed_files"], "config.allowed_files")
    return [_string(s, f"config.allowed_files[{n}]") for n, s in enumerate(suffixes)]


def lines(text):
    """The lines of `text` as Rust's `str::lines` splits them: on "\\n",
    a trailing "\\r" dropped, no empty line after a final newline."""
    parts = text.split("\n")
    if parts and parts[-1] == "":
        parts.pop()
    return [p[:-1] if p.endswith("\r") else p for p in parts]


def plaintext_tokens(text):
    """Line numbers (from 1) of `text` that carry a literal credential."""
    found = []
    for number, line in enumerate(lines(text), start=1):
        for key in ("_authToken=", "_password="):
            if key in line:
                value = line.split(key, 1)[1].strip()
                break
        else:
            continue
        is_reference = value.startswith("${") and value.endswith("}")
        if value and not is_reference:
            found.append(number)
    return found


def error_message(error):
    """The text of a wit `types.error` variant."""
    return getattr(error, "value", str(error))


def review(task):
    """The (summary, SignOff) of the ReviewTask `task`."""
    suffixes = allowed_files(task["config"])
    findings = []

    def finding(file, message):
        findings.append({"file": file, "message": message})

    if task["changes_path"] != task["path"] or task["changes_version"] != task["version"]:
        finding(
            None,
            f"the changes are for {task['changes_path']} version {task['changes_version']}, "
            f"not {task['path']} version {task['version']}",
        )
    if len(task["proposed"]) != len(task["staged"]):
        finding(None, "the staged files and their proposed contents do not match")
    changed = 0
    for (root, file), proposed in zip(task["staged"], task["proposed"]):
        if not any(file.endswith(suffix) for suffix in suffixes):
            allowed = json.dumps(suffixes, ensure_ascii=False)
            finding(file, f"not an allowed file (allowed: {allowed})")
        for line in plaintext_tokens(proposed):
            finding(file, f"line {line} holds a plaintext credential")
        # A new file does not exist yet; any other refusal means the change
        # cannot be reviewed, and an unreviewed file is a finding.
        try:
            before = workspace.read_file(root, file).decode("utf-8", errors="replace")
        except Err as e:
            if isinstance(e.value, Error_NotFound):
                before = ""
            else:
                finding(file, f"cannot be read for review: {error_message(e.value)}")
                continue
        if before != proposed:
            changed += 1
    approved = not findings
    if approved:
        summary = (
            f"approved version {task['version']} of {task['path']}: "
            f"{changed} files change, no plaintext credentials"
        )
    else:
        summary = (
            f"rejected version {task['version']} of {task['path']}: {len(findings)} findings"
        )
    sign_off = {
        "path": task["path"],
        "version": task["version"],
        "approved": approved,
        "findings": findings,
    }
    return summary, sign_off


class Agent(exports.Agent):
    """The `agent` export of the `reviewer` world."""

    def run(self, task: Task) -> Report:
        try:
            review_task = parse_review_task(task.input)
        except Malformed as e:
            raise Err(f"reviewer input: {e}")
        try:
            summary, sign_off = review(review_task)
        except Malformed as e:
            raise Err(f"reviewer config: {e}")
        level = log.Level.INFO if sign_off["approved"] else log.Level.WARN
        log.log(level, f"python reviewer: {summary}")
        output = json.dumps(sign_off, ensure_ascii=False, separators=(",", ":"))
        return Report(summary=summary, output=output)
