"""The {{name}} role: an agentward component for the `{{slot}}` slot.

`run` receives the task (the change it belongs to and its input as JSON) and
returns a report: one line for humans and a JSON output for the next step.
Raising `Err(text)` fails the run with that text. Every host call goes
through agentward's policy and lands in its audit log. build.sh turns this
module into {{name}}.wasm with componentize-py.
"""

import json

from wit_world import exports
from wit_world.exports.agent import Report, Task
from wit_world.imports import log


class Agent(exports.Agent):
    def run(self, task: Task) -> Report:
        change = task.change_id or "outside a change"
        log.log(log.Level.INFO, f"{{name}}: hello, {change}")
        size = len(task.input.encode())
        return Report(
            summary=f"{{name}} read {size} bytes of input",
            output=json.dumps({"role": "{{name}}", "input_bytes": size}),
        )
