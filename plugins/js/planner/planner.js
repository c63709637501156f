// Planner, in JavaScript: decides which secrets a change rotates, and when.
//
// The same contract as the Rust planner (plugins/planner): the input is a
// PlanTask as JSON, the output a Plan as JSON (plugins/handoff/src/lib.rs,
// docs/orchestrator.md). A secret is due when its current version is older
// than its cadence (the `cadence_days` custom attribute, else the task's) or
// it expires within the lead time. A breach plan holds exactly the suspected
// path and never waits. A cadence plan starts inside the workflow's daily
// window and outside the CI schedules (`HH:MM-HH:MM` UTC blocks) that the
// Researcher's briefing found in the docs; each item lists the repository
// files the Domain specialist mapped to its secret. Metadata only:
// `secrets-meta`, and the briefing.
//
// Built by scripts/build-js-roles.sh against the `planner` world of wit/.

import { listPaths, describe } from 'agentward:host/secrets-meta@0.1.1';
import { log } from 'agentward:host/log@0.1.1';

const DAY_MS = 24 * 60 * 60 * 1000;
const MINUTE_MS = 60 * 1000;

// ---------------------------------------------------------------- errors

// A role's error is the `string` of `result<report, string>`. The bindings
// map a thrown string to that error; anything else would trap.
class RoleError {
  constructor(message) {
    this.message = message;
  }
}

function fail(message) {
  throw new RoleError(message);
}

// The host's explanation of a failed import call, without the variant name
// (`{ tag: 'denied', val: '...' }` arrives as the thrown error's payload).
function hostMessage(e) {
  const payload = e && typeof e === 'object' && 'payload' in e ? e.payload : e;
  if (payload && typeof payload === 'object' && 'val' in payload) {
    return String(payload.val);
  }
  if (payload instanceof Error) {
    return payload.message;
  }
  return String(payload);
}

// ---------------------------------------------------------------- time

// RFC 3339 with a mandatory offset, as the `time` crate parses it.
const RFC3339 =
  /^(\d{4})-(\d{2})-(\d{2})[Tt](\d{2}):(\d{2}):(\d{2})(\.\d+)?([Zz]|([+-])(\d{2}):(\d{2}))$/;

// A point in time: `ms` since the epoch (UTC) and the offset, in minutes,
// it was written in. Arithmetic is JS Date arithmetic on `ms`.
function parseTs(text, what) {
  const bad = () => fail(`${what} ${JSON.stringify(text)} is not RFC 3339`);
  const m = typeof text === 'string' ? RFC3339.exec(text) : null;
  if (!m) bad();
  const [year, month, day, hour, minute, second] = m.slice(1, 7).map(Number);
  const fraction = m[7] ? Number(`0${m[7]}`) : 0;
  let offset = 0;
  if (m[9]) {
    const [oh, om] = [Number(m[10]), Number(m[11])];
    if (oh > 23 || om > 59) bad();
    offset = (m[9] === '-' ? -1 : 1) * (oh * 60 + om);
  }
  if (month < 1 || month > 12 || hour > 23 || minute > 59 || second > 59) bad();
  // setUTCFullYear, unlike Date.UTC, takes years 0-99 literally.
  const local = new Date(0);
  local.setUTCFullYear(year, month - 1, day);
  local.setUTCHours(hour, minute, second, 0);
  // A Date rolls 31 November over into December: refuse it instead.
  if (local.getUTCDate() !== day || local.getUTCMonth() !== month - 1) bad();
  const ms = local.getTime() + Math.round(fraction * 1000) - offset * MINUTE_MS;
  return { ms, offset };
}

const pad = (n, width = 2) => String(n).padStart(width, '0');

// Formats like the `time` crate's Rfc3339: seconds always, a fraction only
// when there is one, `Z` for UTC, else the original offset.
function formatTs({ ms, offset }) {
  const local = new Date(ms + offset * MINUTE_MS);
  let text =
    `${pad(local.getUTCFullYear(), 4)}-${pad(local.getUTCMonth() + 1)}-${pad(local.getUTCDate())}` +
    `T${pad(local.getUTCHours())}:${pad(local.getUTCMinutes())}:${pad(local.getUTCSeconds())}`;
  const millis = local.getUTCMilliseconds();
  if (millis) {
    text += `.${pad(millis, 3)}`.replace(/0+$/, '');
  }
  if (offset === 0) {
    return `${text}Z`;
  }
  const abs = Math.abs(offset);
  return `${text}${offset < 0 ? '-' : '+'}${pad(Math.floor(abs / 60))}:${pad(abs % 60)}`;
}

function addDays(ts, days) {
  return { ms: ts.ms + days * DAY_MS, offset: ts.offset };
}

// `HH:MM` as minutes after midnight.
function parseHhmm(text) {
  const bad = () => fail(`window time ${JSON.stringify(text)} is not HH:MM`);
  const parts = typeof text === 'string' ? text.split(':') : [];
  if (parts.length < 2) bad();
  const [h, m] = [parts[0], parts.slice(1).join(':')];
  if (!/^\+?\d+$/.test(h) || !/^\+?\d+$/.test(m)) bad();
  const [hour, minute] = [Number(h), Number(m)];
  if (hour > 23 || minute > 59) bad();
  return hour * 60 + minute;
}

// Whether `t` (in its own offset) is inside the daily `window`; one that
// ends before it starts crosses midnight.
function inWindow(t, window) {
  const [start, end] = [parseHhmm(window.start), parseHhmm(window.end)];
  const local = t.ms + t.offset * MINUTE_MS;
  const minutes = (((local % DAY_MS) + DAY_MS) % DAY_MS) / MINUTE_MS; // with a fraction
  return start <= end ? minutes >= start && minutes < end : minutes >= start || minutes < end;
}

// Rust's `char::is_whitespace`, and the table separators `|` and `,`.
const WORD_SEPARATORS = /[\t\n\v\f\r \u0085\u00a0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000|,]/;

// Daily UTC blocks (`HH:MM-HH:MM`) when CI runs, from the briefing's
// documents on CI schedules: a rotation must not start inside one.
function ciBlocks(briefing) {
  const blocks = [];
  for (const doc of briefing.documents) {
    const about = `${doc.topic} ${doc.title}`.toLowerCase();
    if (!(about.includes('ci ') || about.includes('ci-') || about.includes('schedule'))) {
      continue;
    }
    for (const word of doc.excerpt.split(WORD_SEPARATORS)) {
      const dash = word.indexOf('-');
      if (dash < 0) {
        continue;
      }
      const [start, end] = [word.slice(0, dash), word.slice(dash + 1)];
      if (isHhmm(start) && isHhmm(end)) {
        blocks.push({ start, end });
      }
    }
  }
  return blocks;
}

function isHhmm(text) {
  try {
    parseHhmm(text);
    return true;
  } catch (e) {
    if (e instanceof RoleError) return false;
    throw e;
  }
}

const SEARCH_STEP_MINUTES = 1;
const SEARCH_DAYS = 2;

// The first time from `now` that is inside the workflow's window (if it has
// one) and outside every CI block; `null` if that is `now` itself. Whole-
// minute steps: a window's start or a block's end is hit exactly.
function startTime(now, window, busy) {
  const until = addDays(now, SEARCH_DAYS).ms;
  let t = now;
  while (t.ms < until) {
    const open = window == null ? true : inWindow(t, window);
    let clear = true;
    for (const block of busy) {
      clear = !inWindow(t, block) && clear;
    }
    if (open && clear) {
      return t.ms === now.ms ? null : t;
    }
    const next = t.ms + SEARCH_STEP_MINUTES * MINUTE_MS;
    t = { ms: next - (((next % MINUTE_MS) + MINUTE_MS) % MINUTE_MS), offset: t.offset };
  }
  fail(
    `no time in the next ${SEARCH_DAYS} days is inside the window and outside the CI schedules (${busy.length} blocks)`,
  );
}

// ---------------------------------------------------------------- input

function isU32(n) {
  return Number.isInteger(n) && n >= 0 && n <= 0xffffffff;
}

// The PlanTask, checked as strictly as serde's `deny_unknown_fields` does.
function parsePlanTask(input) {
  let task;
  try {
    task = JSON.parse(input);
  } catch (e) {
    fail(`planner input: ${e.message}`);
  }
  const bad = (what) => fail(`planner input: ${what}`);
  if (!task || typeof task !== 'object' || Array.isArray(task)) bad('expected a PlanTask object');
  const known = [
    'now', 'trigger', 'breach', 'prefixes', 'cadence_days', 'lead_days',
    'window', 'failures', 'briefing', 'usages', 'config',
  ];
  for (const key of Object.keys(task)) {
    if (!known.includes(key)) bad(`unknown field \`${key}\``);
  }
  if (typeof task.now !== 'string') bad('`now` must be a string');
  if (task.trigger !== 'cadence' && task.trigger !== 'breach') bad('`trigger` must be "cadence" or "breach"');
  if (task.breach != null && typeof task.breach !== 'string') bad('`breach` must be a string or null');
  if (!Array.isArray(task.prefixes) || !task.prefixes.every((p) => typeof p === 'string')) {
    bad('`prefixes` must be a list of strings');
  }
  if (!isU32(task.cadence_days)) bad('`cadence_days` must be a u32');
  if (!isU32(task.lead_days)) bad('`lead_days` must be a u32');
  if (task.window != null) {
    const w = task.window;
    if (typeof w !== 'object' || typeof w.start !== 'string' || typeof w.end !== 'string') {
      bad('`window` must be {start, end}');
    }
  }
  if (!Array.isArray(task.failures)) bad('`failures` must be a list');
  for (const f of task.failures) {
    for (const key of ['path', 'change_id', 'outcome', 'reason']) {
      if (!f || typeof f[key] !== 'string') bad(`every failure needs a string \`${key}\``);
    }
  }
  // The Researcher's briefing and the Domain specialist's usages: empty
  // when the workflow has no research or map stage.
  task.briefing = task.briefing ?? { documents: [] };
  if (typeof task.briefing !== 'object' || !Array.isArray(task.briefing.documents)) {
    bad('`briefing` must be {documents: [...]}');
  }
  for (const doc of task.briefing.documents) {
    for (const key of ['topic', 'path', 'title', 'digest', 'excerpt']) {
      if (!doc || typeof doc[key] !== 'string') bad(`every briefing document needs a string \`${key}\``);
    }
  }
  task.usages = task.usages ?? [];
  if (!Array.isArray(task.usages)) bad('`usages` must be a list');
  for (const usage of task.usages) {
    const file = usage && usage.file;
    if (typeof usage?.secret !== 'string' || !file || typeof file.root !== 'string' || typeof file.file !== 'string') {
      bad('every usage needs a string `secret` and a `file` {root, file}');
    }
  }
  if (!('config' in task)) bad('missing field `config`');
  return task;
}

// The secret's own cadence: its `cadence_days` custom attribute, which must
// be a whole number of days (a u32, as Rust's `parse::<u32>` reads it), else
// the task's.
function cadenceOf(path, custom, fallback) {
  const entry = custom.find(([key]) => key === 'cadence_days');
  if (!entry) {
    return fallback;
  }
  const n = /^\+?\d+$/.test(entry[1]) ? Number(entry[1]) : NaN;
  if (!isU32(n)) {
    fail(`${path}: its cadence_days attribute ${JSON.stringify(entry[1])} is not a whole number of days`);
  }
  return n;
}

// ---------------------------------------------------------------- planning

function assess(task, now, path) {
  let info;
  try {
    info = describe(path);
  } catch (e) {
    fail(`describe ${path}: ${hostMessage(e)}`);
  }
  const current = info.versions.find((v) => v.labels.includes('current'));
  const cadenceDays = cadenceOf(path, info.custom, task.cadence_days);
  const horizon = addDays(now, task.lead_days);
  let reason = null;
  if (info.expires != null && parseTs(info.expires, 'expiry').ms <= horizon.ms) {
    reason = `expires ${info.expires}, within ${task.lead_days} days`;
  }
  if (!current) {
    reason = 'has no current version';
  } else if (reason === null) {
    const due = addDays(parseTs(current.created, 'creation time'), cadenceDays);
    if (due.ms <= horizon.ms) {
      reason = `version ${current.version} was created ${current.created}, older than its ${cadenceDays}-day cadence`;
    }
  }
  return {
    path,
    current: current ? current.version : null,
    reason,
    cadenceDays,
    scopes: info.scopes,
  };
}

function plan(task) {
  const now = parseTs(task.now, 'now');
  let paths;
  if (task.trigger === 'breach') {
    if (task.breach == null) fail('a breach plan needs the suspected path');
    paths = [task.breach];
  } else {
    paths = [];
    for (const prefix of task.prefixes) {
      try {
        paths.push(...listPaths(prefix));
      } catch (e) {
        fail(`list ${prefix}: ${hostMessage(e)}`);
      }
    }
  }
  const items = [];
  const notes = [];
  let notDue = 0;
  for (const path of paths) {
    const candidate = assess(task, now, path);
    if (task.trigger === 'breach') {
      candidate.reason = 'suspected breach: rotate now';
    }
    if (candidate.reason === null) {
      notDue += 1;
      continue;
    }
    for (const failure of task.failures.filter((f) => f.path === path)) {
      notes.push(
        `${path}: change ${failure.change_id} ended ${failure.outcome} (${failure.reason}); planned again`,
      );
    }
    // Field names and order are the serde names of handoff's PlanItem.
    items.push({
      path: candidate.path,
      current_version: candidate.current,
      reason: candidate.reason,
      cadence_days: candidate.cadenceDays,
      scopes: candidate.scopes,
      files: task.usages
        .filter((u) => u.secret === path)
        .map((u) => ({ root: u.file.root, file: u.file.file })),
    });
  }
  const busy = ciBlocks(task.briefing);
  let notBefore = null;
  if (task.trigger === 'cadence' && items.length > 0) {
    const start = startTime(now, task.window, busy);
    notBefore = start === null ? null : formatTs(start);
  }
  if (busy.length > 0 && task.trigger === 'cadence') {
    notes.push(`avoiding ${busy.length} CI blocks from the docs`);
  }
  log('info', `${items.length} due, ${notDue} not due`);
  const summary =
    notBefore !== null
      ? `${items.length} secrets due; rotation starts at ${notBefore}`
      : `${items.length} secrets due, ${notDue} not due`;
  return { summary, output: JSON.stringify({ items, not_before: notBefore, notes }) };
}

// ---------------------------------------------------------------- export

// The `agent` interface of the `planner` world. Returning the report is
// `ok`; throwing a string is `err(string)`.
export const agent = {
  run(task) {
    try {
      return plan(parsePlanTask(task.input));
    } catch (e) {
      if (e instanceof RoleError) {
        throw e.message;
      }
      throw `planner: ${e && e.message ? e.message : String(e)}`;
    }
  },
};
