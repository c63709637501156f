// The {{name}} role: an agentward component for the `{{slot}}` slot.
//
// `run` receives the task (the change it belongs to and its input as JSON)
// and returns a report: one line for humans and a JSON output for the next
// step. Throwing a string fails the run with that text. Every host call goes
// through agentward's policy and lands in its audit log. build.sh turns this
// module into {{name}}.wasm with componentize-js.

import { log } from 'agentward:host/log@0.1.1';

export const agent = {
  run(task) {
    const change = task.changeId || 'outside a change';
    log('info', `{{name}}: hello, ${change}`);
    const size = new TextEncoder().encode(task.input).length;
    return {
      summary: `{{name}} read ${size} bytes of input`,
      output: JSON.stringify({ role: '{{name}}', input_bytes: size }),
    };
  },
};
